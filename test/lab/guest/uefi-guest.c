// Lab guest for UEFI firmware (OVMF), booted as \EFI\BOOT\BOOTX64.EFI from a FAT disk.
// It keeps a boot counter in a non-volatile UEFI variable and prints "BOOT n" to COM1 at
// every start, so a test can tell whether the guest's NVRAM moved with it (the counter goes
// on) or was recreated from the firmware's template (it starts again at 1). Then, like the
// BIOS guest, it writes "HB xxxxxxxx" every ~110 ms forever; a counter that continues across a
// live move proves the guest was not restarted. It waits on a firmware timer event, so the
// CPU halts between beats.
// Build: see build_guests in test/lab/lab.sh (gnu-efi).
#include <efi.h>
#include <efilib.h>

static EFI_GUID vendor = {0x6d9a4f0e, 0x2b1c, 0x4e57, {0x9a, 0x41, 0x76, 0x6d, 0x70, 0x6c, 0x61, 0x63}};

static void outb(UINT16 port, UINT8 value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static UINT8 inb(UINT16 port) {
  UINT8 value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

// COM1 directly: the firmware's console also owns it, but prints nothing once we run.
static void serial_write(const char *s) {
  for (; *s; s++) {
    while (!(inb(0x3F8 + 5) & 0x20)) {
    }
    outb(0x3F8, (UINT8)*s);
  }
}

static void hex8(char *out, UINT32 value) {
  static const char digits[] = "0123456789ABCDEF";
  for (int i = 7; i >= 0; i--, value >>= 4) out[i] = digits[value & 0xF];
}

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab) {
  InitializeLib(image, systab);
  // The boot manager arms a 5-minute watchdog for every boot option; this guest never returns.
  uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);

  UINT32 boots = 0;
  UINTN size = sizeof(boots);
  uefi_call_wrapper(RT->GetVariable, 5, L"VmpBoots", &vendor, NULL, &size, &boots);
  boots++;
  uefi_call_wrapper(RT->SetVariable, 5, L"VmpBoots", &vendor,
                    EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS |
                        EFI_VARIABLE_RUNTIME_ACCESS,
                    sizeof(boots), &boots);
  char line[] = "\nBOOT xxxxxxxx\n";
  hex8(line + 6, boots);
  serial_write(line);

  EFI_EVENT tick;
  uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER, 0, NULL, NULL, &tick);
  uefi_call_wrapper(BS->SetTimer, 3, tick, TimerPeriodic, 1100000);  // 110 ms in 100 ns units
  char beat[] = "HB xxxxxxxx\n";
  for (UINT32 n = 0;; n++) {
    UINTN index;
    uefi_call_wrapper(BS->WaitForEvent, 3, 1, &tick, &index);
    hex8(beat + 3, n);
    serial_write(beat);
  }
}
