; nestfuzz Bochs option ROM: the Bochs adapter's stand-in for a multiboot loader (oracle.md §4.2).
;
; Bochs loads it at ROM_BASE (optromimage1); the reset ROM (resetrom.asm, in place of a BIOS) jumps
; to its entry in real mode. It keeps the option-ROM shape a BIOS would run during POST (signature
; 0x55 0xAA, size in 512-byte blocks, entry at offset 3; the adapter fixes the checksum byte so all
; bytes sum to 0 mod 256). The ROM fills the real-mode IVT and low memory, masks the PICs, enables A20, switches to
; 32-bit protected mode with flat CS/DS/ES/SS (the data selectors must be reloaded: a data access
; through the real-mode segment cache faults) and jumps to the harness's 32-bit entry at
; HARNESS_BASE, where Bochs's optramimage put it. It never returns.

%include "layout.inc"
%include "flat.inc"

ROM_BASE   equ 0xD0000
ROM_BLOCKS equ 4                     ; 2 KiB
IVT_HANDLER_SEG equ 0xF000           ; resetrom.asm's IRET
IVT_HANDLER_OFF equ 0xFF53

bits 16
org 0

    db 0x55, 0xAA, ROM_BLOCKS
entry:
    cli
    cld
    mov al, 0xFF                     ; mask every IRQ on both PICs: the harness polls the disk
    out 0x21, al
    out 0xA1, al
    ; Real-mode IVT: every vector at the IRET the reset ROM keeps where a PC BIOS keeps its dummy
    ; handler (resetrom.asm, F000:FF53). With no BIOS, low memory is zero, and an L2 in real mode
    ; that delivers an event would run off from 0:0 into VGA space, where Bochs PANICs on the fetch.
    xor ax, ax
    mov es, ax
    xor di, di
    mov cx, 256
.ivt:
    mov ax, IVT_HANDLER_OFF
    stosw
    mov ax, IVT_HANDLER_SEG
    stosw
    loop .ivt
    ; Conventional memory above the IVT (0x500-0x9FFFF) as 0xFF bytes, which decode as FF /7 (#UD)
    ; at any offset. A BIOS leaves its data there; with zeros (ADD [BX+SI],AL at every offset) an
    ; L2 in real mode that runs off into low memory slides on into VGA space, where Bochs PANICs on
    ; the fetch (measured: seed 10's state 5421; with the BIOS's bytes it took #UD at once).
    mov ax, 0xFFFF
    mov di, 0x500
    mov cx, (0x10000 - 0x500) / 2
    rep stosw                        ; es = 0 from the IVT
    mov bx, 0x1000
.low:
    mov es, bx
    xor di, di
    mov cx, 0x8000
    rep stosw
    add bx, 0x1000
    cmp bx, 0xA000
    jb .low
    in al, 0x92                      ; fast A20 (bit 1), never the reset bit (bit 0)
    or al, 2
    and al, 0xFE
    out 0x92, al
    mov ax, cs
    mov ds, ax
    o32 lgdt [gdt_ptr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x18:(ROM_BASE + pm32)

bits 32
pm32:
    LOAD_FLAT_DATA
    mov esp, STACK_TOP
    mov eax, HARNESS_BASE
    jmp eax

align 8
; The harness's selectors (svm.asm/vmx.asm gdt): 0x10 flat data, 0x18 flat 32-bit code.
gdt:
    dq 0
    dq 0
    dq 0x00CF92000000FFFF
    dq 0x00CF9A000000FFFF
gdt_end:
gdt_ptr:
    dw gdt_end - gdt - 1
    dd ROM_BASE + gdt

    times ROM_BLOCKS * 512 - ($ - $$) db 0
