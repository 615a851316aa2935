; nestfuzz Bochs system ROM: stands in for the BIOS (romimage), so a boot skips POST.
;
; The CPU starts at F000:FFF0 with CS.base 0xFFFF0000 (SDM 9.1.4, APM 14.1.5: the reset vector is
; 16 bytes below 4 GiB), which is offset 0xFFF0 of this 64 KiB image mapped at 0xFFFF0000. The only
; instruction is a far jump to the option ROM's entry (optrom.asm, loaded by Bochs itself at
; 0xD0000), which masks the PICs, enables A20, enters protected mode and jumps to the harness;
; nothing it or the harness does needs the BIOS (no BIOS call, no interrupt, the disk by PIO, and
; IA32_FEATURE_CONTROL set by vmx.asm). Measured: an empty batch boots in 214 ms against 340 ms
; through BIOS-bochs-latest's POST (4.3M instructions before the option ROM ran, 73,000 after).

bits 16
org 0

ROM_SIZE   equ 0x10000
RESET_OFF  equ 0xFFF0                ; CS:IP = F000:FFF0 at reset
OPTROM_SEG equ 0xD000                ; optrom.asm ROM_BASE >> 4
OPTROM_ENTRY equ 3                   ; after the 0x55 0xAA signature and the size byte

IRET_OFF   equ 0xFF53                ; where a PC BIOS keeps its dummy interrupt handler

    times IRET_OFF - ($ - $$) db 0xF4
dummy_handler:                       ; every real-mode IVT entry (optrom.asm fills the IVT)
    iret
    times RESET_OFF - ($ - $$) db 0xF4
reset:
    jmp OPTROM_SEG:OPTROM_ENTRY
    times ROM_SIZE - ($ - $$) db 0xF4
