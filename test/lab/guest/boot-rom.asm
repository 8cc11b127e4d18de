; Lab firmware for the boot-sector guests (guest.asm): a 64 KiB BIOS ROM that does only what
; those guests need from a BIOS, in a few hundred instructions. SeaBIOS executes millions
; before it reaches the boot sector, and the lab's nested hypervisor runs 16- and 32-bit code
; at roughly 0.4 us an instruction: ~2.7 s per start. This ROM reaches the boot sector within
; milliseconds, there and under TCG.
;   - caches on (CR0.CD/NW clear) and the local APIC in virtual-wire mode (LINT0 ExtINT,
;     LINT1 NMI), as SeaBIOS leaves them: without it the PIT's interrupts, which drive the
;     guest, never reach the CPU;
;   - reads sector 0 of the disk (a transitional virtio-blk-pci device on PCI bus 0, through
;     its legacy interface) to 0x7C00, checks the 0xAA55 signature, and resets the device
;     again (the guests never touch their disk);
;   - jumps to 0000:7C00 in real mode with DL = 0x80, as a BIOS boots a hard disk.
; No BIOS services or tables, no other device set up: the guests use none. On failure it writes
; one line ("boot-rom: ...") to COM1 and halts.
; Build: nasm -f bin -o boot-rom.bin boot-rom.asm (QEMU wants a multiple of 64 KiB).

%define ROM_BASE 0xF0000        ; where the ROM's last 64 KiB appear below 1 MiB
%define VIO 0xC000              ; I/O address given to the disk's legacy virtio BAR0
%define REQ 0xF000              ; request header (16 bytes), then the status byte
%define VRING 0x10000           ; virtqueue 0, page aligned
%define LAPIC 0xFEE00000
%define COM1 0x3F8

bits 16
org 0
start:
    cli
    cld
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    o32 lgdt [cs:gdt_descriptor]
    mov eax, cr0
    and eax, 0x9FFFFFFF         ; caches on: clear CD and NW
    or al, 1
    mov cr0, eax
    jmp dword 0x08:(ROM_BASE + protected)

bits 32
protected:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x7000

    or dword [LAPIC + 0xF0], 0x100      ; spurious-interrupt vector register: APIC enabled
    mov dword [LAPIC + 0x350], 0x8700   ; LINT0: ExtINT (the 8259 PIC), level triggered
    mov dword [LAPIC + 0x360], 0x8400   ; LINT1: NMI

    ; The disk: vendor 1af4, device 1001, function 0 of a slot on bus 0.
    mov ebx, 0x80000000
.scan:
    mov eax, ebx
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    cmp eax, 0x10011AF4
    je .found
    add ebx, 0x800
    cmp ebx, 0x80010000
    jb .scan
    mov esi, ROM_BASE + msg_no_disk
    jmp fail
.found:
    lea eax, [ebx + 0x10]       ; BAR0 := VIO
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    mov eax, VIO
    out dx, eax
    lea eax, [ebx + 0x04]       ; command register: I/O space and bus master on
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    mov ax, 0x0005
    out dx, ax

    ; Legacy virtio: reset, ACKNOWLEDGE, DRIVER, no features, queue 0.
    mov dx, VIO + 0x12
    xor al, al
    out dx, al
    mov al, 1
    out dx, al
    mov al, 3
    out dx, al
    mov dx, VIO + 0x04
    xor eax, eax
    out dx, eax
    mov dx, VIO + 0x0E
    out dx, ax
    mov dx, VIO + 0x0C
    in ax, dx
    movzx ecx, ax               ; queue size
    mov esi, ROM_BASE + msg_no_queue
    test ecx, ecx
    jz fail

    ; One request: header (read, sector 0), 512 bytes to 0x7C00, status byte.
    xor eax, eax
    mov [REQ], eax              ; VIRTIO_BLK_T_IN
    mov [REQ + 4], eax
    mov [REQ + 8], eax          ; sector 0
    mov [REQ + 12], eax
    mov byte [REQ + 16], 0xFF
    mov edi, VRING              ; descriptors: address (u64), length, flags, next
    mov dword [edi], REQ
    mov [edi + 4], eax
    mov dword [edi + 8], 16
    mov dword [edi + 12], 0x00010001        ; NEXT; next 1
    mov dword [edi + 16], 0x7C00
    mov [edi + 20], eax
    mov dword [edi + 24], 512
    mov dword [edi + 28], 0x00020003        ; NEXT | WRITE; next 2
    mov dword [edi + 32], REQ + 16
    mov [edi + 36], eax
    mov dword [edi + 40], 1
    mov dword [edi + 44], 0x00000002        ; WRITE
    mov esi, ecx                ; available ring: after 16 bytes per descriptor
    shl esi, 4
    add esi, edi
    mov [esi], ax               ; flags 0
    mov [esi + 4], ax           ; ring[0]: descriptor 0
    imul ebx, ecx, 18           ; used ring: the next page after the available ring
    add ebx, 6 + 0xFFF
    and ebx, ~0xFFF
    add ebx, edi
    mov [ebx + 2], ax           ; used index 0 (the RAM may hold an earlier boot's)
    mov dx, VIO + 0x08
    mov eax, VRING >> 12
    out dx, eax
    mov dx, VIO + 0x12
    mov al, 7                   ; DRIVER_OK
    out dx, al
    mov word [esi + 2], 1       ; available index 1
    mov dx, VIO + 0x10
    xor ax, ax
    out dx, ax                  ; notify queue 0

    ; Wait for the used index to reach 1, at most 3-4 * 2^32 TSC cycles (seconds).
    rdtsc
    mov ebp, edx
    mov esi, ROM_BASE + msg_timeout
.wait:
    cmp word [ebx + 2], 1
    je .done
    rdtsc
    sub edx, ebp
    cmp edx, 4
    jb .wait
    jmp fail
.done:
    mov dx, VIO + 0x12          ; reset the device again
    xor al, al
    out dx, al
    mov esi, ROM_BASE + msg_read_failed
    cmp byte [REQ + 16], 0
    jne fail
    mov esi, ROM_BASE + msg_not_bootable
    cmp word [0x7DFE], 0xAA55
    jne fail

    ; Back to real mode through 16-bit segments, then into the boot sector.
    jmp 0x18:real16
bits 16
real16:
    mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xFE
    mov cr0, eax
    jmp 0xF000:real
real:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, 0x7C00
    mov dl, 0x80
    jmp 0x0000:0x7C00

bits 32
; Writes the zero-terminated line at esi to COM1 and halts.
fail:
    mov dx, COM1
.next:
    lodsb
    test al, al
    jz .halt
    out dx, al
    jmp .next
.halt:
    cli
    hlt
    jmp .halt

msg_no_disk: db "boot-rom: no virtio-blk disk (1af4:1001) on PCI bus 0", 10, 0
msg_no_queue: db "boot-rom: the disk's queue 0 has size 0", 10, 0
msg_timeout: db "boot-rom: the disk did not answer the read of sector 0", 10, 0
msg_read_failed: db "boot-rom: reading sector 0 failed", 10, 0
msg_not_bootable: db "boot-rom: sector 0 has no boot signature", 10, 0

; Accessed bits preset: the CPU would otherwise write them into these descriptors, which are
; in ROM (and the lab's hypervisor stalls the vCPU for good on that write).
align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF       ; 0x08: flat 32-bit code
    dq 0x00CF93000000FFFF       ; 0x10: flat 32-bit data
    dq 0x00009B0F0000FFFF       ; 0x18: 16-bit code at ROM_BASE, 64 KiB
    dq 0x000093000000FFFF       ; 0x20: 16-bit data at 0, 64 KiB
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd ROM_BASE + gdt

times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:                          ; the CPU starts here, at F000:FFF0
    jmp 0xF000:start
times 0x10000 - ($ - $$) db 0xFF
