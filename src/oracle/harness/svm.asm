; nestfuzz SVM oracle harness: L1 for a batch of VMCB states on an emulated AMD CPU.
;
; Multiboot v1 image (QEMU -kernel). Boot: 32-bit protected mode, flat, no paging (Multiboot spec
; 3.2). The harness enters long mode on the page tables the adapter prepared at HOST_PML4, sets
; EFER.SVME and VM_HSAVE_PA, then for each state i in [start, count): VMRUN with rAX = the state's
; page (APM 15.5: VMRUN takes the VMCB's physical address in rAX), and records the outcome. The
; VMCB page itself is what L1 sees afterwards; the record only says how VMRUN ended.
;
; After #VMEXIT only rAX, rSP, rIP and the segment/control state are host values (APM 15.6: the
; host's other GPRs are whatever the guest left), so everything the loop needs lives in memory.
; A host exception (e.g. #GP from VMRUN) lands in the IDT stubs below, which record it and resume
; with the next state.

%include "layout.inc"
%include "flat.inc"

bits 32
org HARNESS_BASE

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000              ; bit 16: the load addresses below are valid (a.out kludge)

%ifdef BOCHS
    ; Bochs: optrom.asm jumps here in 32-bit protected mode with flat segments (oracle.md §4.2).
    jmp start32
%else
mb_header:
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    dd mb_header, HARNESS_BASE, 0, 0, start32
%endif

start32:
    cli
    lgdt [gdt_ptr]
%ifdef BOCHS
    mov esp, STACK_TOP
    call boot_guard
    call disk_load                   ; static image, input header and state pages (no paging yet)
%endif
%ifdef REPRO
    mov esp, STACK_TOP
    call repro_boot                  ; harness/repro.inc: the state's memory from the image, header, SVM check
%endif
    mov eax, cr4
    or eax, (1 << 5) | (1 << 9)      ; PAE (long mode needs it), OSFXSR
    mov cr4, eax
    mov eax, HOST_PML4
    mov cr3, eax
    mov ecx, 0xC0000080              ; EFER
    rdmsr
    or eax, (1 << 8) | (1 << 12)     ; LME, SVME
    wrmsr
    mov eax, cr0
    or eax, 0x80010031               ; PG, WP, NE, ET, PE
    mov cr0, eax
    jmp 0x08:long64

bits 64
long64:
    LOAD_FLAT_DATA
    mov rsp, STACK_TOP

    call host_idt_install

    ; CPUID as this CPU model reports it, so the adapter can give the engine the same guest CPUID.
    call cpuid_dump
%ifdef BOCHS
    mov rsi, msg_cpuid
    mov rdi, CPUID_DUMP
    mov r8d, (cpuid_leaves_end - cpuid_leaves) / 8 * 4
    call emit_u32s
%endif

    mov ecx, 0xC0010117              ; VM_HSAVE_PA
    mov eax, HSAVE_PA
    xor edx, edx
    wrmsr

    mov eax, [INPUT_HDR + 8]         ; start index
    mov [CUR_INDEX], rax

next_state:
    mov rsp, STACK_TOP
    mov rax, [CUR_INDEX]
    mov ecx, [INPUT_HDR + 4]         ; count
    cmp rax, rcx
    jae all_done
    inc rax
    shl rax, 12
    add rax, INPUT_HDR               ; state i's VMCB: INPUT_HDR + (i + 1) * 4 KiB
    vmrun
    ; #VMEXIT (or VMEXIT_INVALID): rAX is the host's again, i.e. this state's VMCB (APM 15.6).
    ; The record carries the fields a verdict needs, so the adapter reads 64 bytes, not the page.
    mov rbx, rax
    xor esi, esi
    xor edi, edi
    mov edx, REC_EXIT
    call record
    mov rax, [rbx + 0x70]            ; EXITCODE
    mov [rcx + 8], rax
    mov rax, [rbx + 0x78]            ; EXITINFO1
    mov [rcx + 16], rax
    mov rax, [rbx + 0x80]            ; EXITINFO2
    mov [rcx + 24], rax
    mov rax, [rbx + 0x88]            ; EXITINTINFO (low: info, high: error code)
    mov [rcx + 32], rax
    mov rax, [rbx + 0x578]           ; save area RIP
    mov [rcx + 40], rax
    mov rax, [rbx + 0xC8]            ; NextRIP
    mov [rcx + 48], rax
    mov rax, [rbx + 0xA8]            ; EVENTINJ as the CPU left it
    mov [rcx + 56], rax
%ifdef BOCHS
    call emit_record
%endif
    inc qword [CUR_INDEX]
    jmp next_state

all_done:
    mov rax, [INPUT_HDR + 4]
    and eax, 0xFFFFFFFF
    xor esi, esi
    xor edi, edi
    mov edx, REC_END
    mov [CUR_INDEX], rax
    call record
%ifdef REPRO
    jmp repro_report                 ; print the observed outcome against the expected verdicts
%endif
%ifdef BOCHS
    call emit_record
    xchg bx, bx                      ; magic breakpoint: the debugger script's `c` returns, `quit` ends Bochs
%else
    mov dx, EXIT_PORT
    xor eax, eax
    out dx, eax                      ; QEMU exits with status 1
%endif
.hang:
    hlt
    jmp .hang

; record: [RECORDS + CUR_INDEX * 64] = { u32 index, u32 kind (edx), u64 a (rsi), u64 b (rdi) };
; returns the record's address in rcx. The adapter reads records once the emulator has exited;
; its hang watchdog reads only the index word.
record:
    mov rax, [CUR_INDEX]
    mov rcx, rax
    shl rcx, 6
    add rcx, RECORDS
    mov [rcx + 4], edx
    mov [rcx + 8], rsi
    mov [rcx + 16], rdi
    mov [rcx], eax
    ret

host_exception:
    pop rsi                          ; vector
    pop rdi                          ; error code
    mov edx, REC_HOST_EXC
    call record
%ifdef BOCHS
    call emit_record
%endif
    inc qword [CUR_INDEX]
    jmp next_state

align 8
gdt:
    dq 0
    dq 0x00AF9A000000FFFF            ; 0x08: 64-bit code
    dq 0x00CF92000000FFFF            ; 0x10: data
    dq 0x00CF9A000000FFFF            ; 0x18: 32-bit code
gdt_end:
gdt_ptr:
    dw gdt_end - gdt - 1
    dq gdt

%include "host64.inc"
%ifdef BOCHS
%include "bochs.inc"
%endif
%ifdef REPRO
%include "repro.inc"                 ; last: its data block label must end the image
%endif
