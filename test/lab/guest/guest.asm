; Lab guest: a 512-byte boot sector, no OS.
; It enters 32-bit protected mode, then forever:
;   - every PIT period (65536 ticks of 1.193182 MHz = 54.9 ms) dirties
;     PAGES_PER_TICK pages of a WSET_MIB working set starting at 16 MiB;
;   - every BEAT_TICKS periods writes "HB xxxxxxxx\n" (hex counter) to COM1, the first one
;     after the first period already.
; Between periods it halts until the PIT's interrupt: an idle guest costs its host
; almost no CPU (polling the PIT made every guest spin a host core).
; A counter that continues across a migration proves the guest was not restarted.
; Build: nasm -f bin -DPAGES_PER_TICK=n -DWSET_MIB=m -o guest.bin guest.asm

%ifndef PAGES_PER_TICK
%define PAGES_PER_TICK 0
%endif
%ifndef WSET_MIB
%define WSET_MIB 64
%endif
%ifndef BEAT_TICKS
%define BEAT_TICKS 2
%endif

%define COM1 0x3F8
%define WSET_BASE 0x1000000
%define WSET_PAGES (WSET_MIB * 256)
%define IDT_BASE 0x500

bits 16
org 0x7C00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    in al, 0x92                 ; fast A20 gate
    or al, 2
    and al, 0xFE
    out 0x92, al
    lgdt [gdt_descriptor]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp 0x08:protected

bits 32
protected:
    mov ax, 0x10                ; every data segment: KVM emulates (and cannot iret) while
    mov ds, ax                  ; one still holds a real-mode descriptor
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x7C00

    ; COM1: 115200 8N1, no interrupts
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al
    mov dx, COM1
    mov al, 1
    out dx, al
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al

    ; PIT channel 0, mode 2, full 65536 period
    mov al, 0x34
    out 0x43, al
    xor al, al
    out 0x40, al
    out 0x40, al

    ; IDT at 0x500: vectors 0x20-0x27 (master PIC, remapped) go to tick.
    mov edi, IDT_BASE + 0x20 * 8
    mov ecx, 8
.gate:
    mov eax, tick
    mov [edi], ax
    mov dword [edi + 2], 0x8E000008 ; selector 0x08; present 32-bit interrupt gate
    shr eax, 16
    mov [edi + 6], ax
    add edi, 8
    loop .gate
    lidt [idt_descriptor]

    ; PIC: master to vectors 0x20-0x27 with only IRQ0 (the PIT) unmasked; slave masked.
    mov al, 0x11
    out 0x20, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x01
    out 0x21, al
    mov al, 0xFE
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al

    xor ebp, ebp                ; heartbeat counter
    xor esi, esi                ; next page index in the working set
    mov ebx, BEAT_TICKS - 1     ; ticks since last beat: the first beat comes on the first tick

wait_tick:
    mov esp, 0x7C00
    sti
    hlt                         ; until the PIT's next period
    jmp wait_tick

; The PIT interrupt lands here and never returns: the frame is dropped and the loop halts
; again (no iret, which some hypervisors cannot emulate for a guest like this one).
tick:
    mov esp, 0x7C00
    mov al, 0x20                ; end of interrupt
    out 0x20, al

    mov ecx, PAGES_PER_TICK
    jecxz dirtied
dirty:
    mov eax, esi
    shl eax, 12
    add eax, WSET_BASE
    inc dword [eax]
    inc esi
    cmp esi, WSET_PAGES
    jb .next
    xor esi, esi
.next:
    loop dirty
dirtied:

    inc ebx
    cmp ebx, BEAT_TICKS
    jb wait_tick
    xor ebx, ebx
    inc ebp
    call beat
    jmp wait_tick

; writes "HB " + 8 hex digits of ebp + "\n"
beat:
    mov al, 'H'
    call putc
    mov al, 'B'
    call putc
    mov al, ' '
    call putc
    mov ecx, 8
    mov edx, ebp
.digit:
    rol edx, 4
    mov al, dl
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe .emit
    add al, 7
.emit:
    push edx
    call putc
    pop edx
    loop .digit
    mov al, 10
    call putc
    ret

putc:
    push eax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    ret

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF       ; flat code
    dq 0x00CF92000000FFFF       ; flat data
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt
idt_descriptor:
    dw 0x28 * 8 - 1
    dd IDT_BASE

times 510 - ($ - $$) db 0
dw 0xAA55
