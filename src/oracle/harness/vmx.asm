; nestfuzz VMX oracle harness: L1 for a batch of VMCS states on Bochs's Intel model
; (corei7_sandy_bridge_2600k; oracle.md §6). Assembled with -DBOCHS: entered by optrom.asm in
; 32-bit protected mode, input loaded from the ATA disk (bochs.inc). Assembled with -DREPRO: a
; reproducer for one state (`nestfuzz export`), a Multiboot image whose memory comes from the data
; block repro.inc loads; with -DREPRO -DBOCHS the same reproducer entered by optrom.asm, so Bochs
; runs the code a KVM host runs (tests/oracle/exportVmx.spec.ts).
;
; Boot: long mode on the adapter's tables at HOST_PML4, a host GDT at HOST_GDT with a 64-bit TSS
; descriptor (SDM 27.2.3: the host TR selector must not be 0), CR4.VMXE and CR0.NE (SDM 24.8:
; VMXON needs them), IA32_FEATURE_CONTROL locked with VMX outside SMX, VMXON on a region holding
; the revision id (IA32_VMX_BASIC[30:0]). The capability MSRs are printed once ("@NF M").
;
; Per state i: the VMCS page is zeroed and given the revision id, VMCLEAR + VMPTRLD, then VMWRITE
; of the harness's host-state defaults and of the state's list (u32 encoding, u32 pad, u64 value)
; ended by encoding 0xFFFFFFFF, so a list entry can override a host field; then VMLAUNCH. The
; record says how it ended: VMfailInvalid / VMfailValid (with the VM-instruction error and the
; failing VMWRITE's encoding), a VM exit (reason, qualification, ...) or a host exception.
;
; After a VM exit only RSP/RIP and the host state the VMCS names are the harness's (SDM 28.5), so
; the loop keeps everything it needs in memory.
;
; REPRO: the host is whatever CPU boots the image (a KVM guest with nested VMX, Bochs), so what
; depends on it comes from its MSRs at run time, as a kvm-unit-test does it: the revision id from
; IA32_VMX_BASIC (as in the batch harness) and the VM-execution, VM-exit and VM-entry controls
; fitted to its IA32_VMX_[TRUE_]*_CTLS (repro_adjust_controls), each change printed. Then the one
; state runs and repro_vmx_report prints the outcome and the expected verdicts it matches.

%include "layout.inc"
%include "flat.inc"

%ifndef BOCHS
%ifndef REPRO
%error "vmx.asm runs on Bochs (-DBOCHS) or as a reproducer (-DREPRO)"
%endif
%endif

; The batch harness's per-state text line (bochs.inc); a reproducer prints its own report instead.
%macro EMIT_RECORD 0
%ifndef REPRO
    call emit_record
%endif
%endmacro

bits 32
org HARNESS_BASE

    jmp start32

; HOST_RIP: fixed at VMX_HOST_RIP so the adapter can put the same value in the engine's vmcs12.
    times (VMX_HOST_RIP - HARNESS_BASE) - ($ - $$) db 0x90
bits 64
host_rip_entry:
    jmp vmx_exit
bits 32

%ifdef REPRO
%ifndef BOCHS
; Multiboot v1 (QEMU -kernel, GRUB): the header may sit anywhere 32-bit aligned in the first 8 KiB
; (Multiboot 0.6.96 §3.1), so it follows the fixed host RIP; flag bit 16 (a.out kludge) loads the
; whole file at HARNESS_BASE and enters start32 in flat 32-bit protected mode.
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000
align 4
mb_header:
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    dd mb_header, HARNESS_BASE, 0, 0, start32
%endif
%endif

start32:
    cli
%ifdef REPRO
    cld                              ; optrom.asm clears DF; a multiboot loader need not
%endif
    mov esp, STACK_TOP
    ; the host GDT lives at a fixed address (HOST_GDTR_BASE is part of the state the engine sees)
    mov esi, gdt
    mov edi, HOST_GDT
    mov ecx, (gdt_end - gdt) / 4
    rep movsd                        ; eax/ebx stay as the multiboot loader left them
    lgdt [gdt_ptr]
%ifdef BOCHS
    call boot_guard
%endif
%ifdef REPRO
    call repro_boot                  ; harness/repro.inc: header, CPUID.1:ECX.VMX, the state's memory from the image
%else
    call disk_load                   ; static image, input header and state pages (no paging yet)
%endif
    mov eax, cr4
    or eax, HOST_CR4_VMX & ~(1 << 13) ; PAE, OSFXSR now; VMXE below
    mov cr4, eax
    mov eax, HOST_PML4
    mov cr3, eax
    mov ecx, 0xC0000080              ; EFER
    rdmsr
    or eax, (1 << 8)                 ; LME
    wrmsr
    mov eax, HOST_CR0_VMX
    mov cr0, eax
    jmp 0x08:long64

bits 64
long64:
    LOAD_FLAT_DATA
    mov rsp, STACK_TOP
    mov ax, HOST_TR_SEL
    ltr ax

    call host_idt_install

    ; CPUID as this CPU model reports it, so the adapter can give the engine the same guest CPUID.
    call cpuid_dump
%ifndef REPRO
    mov rsi, msg_cpuid
    mov rdi, CPUID_DUMP
    mov r8d, (cpuid_leaves_end - cpuid_leaves) / 8 * 4
    call emit_u32s
%endif

    ; capability MSRs 0x480.. in order; one the model lacks (#GP) reads as all-ones
    mov byte [probing], 1
    mov rdi, VMX_CAPS
    mov ecx, 0x480
.caps:
    rdmsr
    mov [rdi], eax
    mov [rdi + 4], edx
    add rdi, 8
    inc ecx
    cmp ecx, 0x480 + VMX_CAP_COUNT
    jb .caps
    mov byte [probing], 0
%ifdef REPRO
    call repro_print_cpu
    call repro_adjust_controls
%else
    mov rsi, msg_caps
    mov rdi, VMX_CAPS
    mov r8d, VMX_CAP_COUNT
    call emit_u64s
%endif

    ; IA32_FEATURE_CONTROL: lock it with VMX outside SMX unless the firmware locked it already
    mov ecx, 0x3A
    rdmsr
    test eax, 1
    jnz .locked
    mov eax, 5
    xor edx, edx
    wrmsr
.locked:
%ifdef REPRO
    ; SDM 24.7: with the lock bit set and bit 2 (VMXON outside SMX) clear, VMXON raises #GP.
    test eax, 1 << 2
    mov rsi, repro_msg_feature_control
    jz repro_stop64
%endif
    mov rax, cr4
    or eax, 1 << 13                  ; VMXE
    mov cr4, rax
    mov eax, [VMX_CAPS]
    and eax, 0x7FFFFFFF
    mov [HSAVE_PA], eax
    vmxon [vmxon_ptr]
    jbe vmxon_failed

    mov eax, [INPUT_HDR + 8]         ; start index
    mov [CUR_INDEX], rax
%ifdef REPRO
    mov byte [repro_running], 1      ; a host exception from here on is the state's outcome
%endif

next_state:
    mov rsp, STACK_TOP
    mov rax, [CUR_INDEX]
    mov ecx, [INPUT_HDR + 4]         ; count
    cmp rax, rcx
    jae all_done
    ; a fresh VMCS region: zero (no field leaks from the previous state), revision id first
    mov rdi, VMCS_PA
    xor eax, eax
    mov ecx, 512
    rep stosq
    mov eax, [VMX_CAPS]
    and eax, 0x7FFFFFFF
    mov [VMCS_PA], eax
    mov rbx, -2                      ; "encoding" of a failing VMCLEAR
    vmclear [vmcs_ptr]
    jbe vmfail
    mov rbx, -3                      ; ... of a failing VMPTRLD
    vmptrld [vmcs_ptr]
    jbe vmfail
    ; the harness's host-state defaults
    mov rsi, host_defaults
.host:
    mov ebx, [rsi]
    cmp ebx, 0xFFFFFFFF
    je .list
    vmwrite rbx, [rsi + 8]
    jbe vmfail
    add rsi, 16
    jmp .host
.list:
    ; the state's list: INPUT_HDR + (i + 1) * 4 KiB
    mov rsi, [CUR_INDEX]
    inc rsi
    shl rsi, 12
    add rsi, INPUT_HDR
.field:
    mov ebx, [rsi]
    cmp ebx, 0xFFFFFFFF
    je .launch
    vmwrite rbx, [rsi + 8]
    jbe vmfail
    add rsi, 16
    jmp .field
.launch:
    mov rbx, -1                      ; VMLAUNCH itself
    vmlaunch
    ; falls through only on VMfail (SDM 31.2: VMsucceed never returns here)

; vmfail: rbx = what failed (a VMWRITE's encoding, or -1 VMLAUNCH, -2 VMCLEAR, -3 VMPTRLD);
; CF = VMfailInvalid, ZF = VMfailValid (SDM 31.2).
vmfail:
    jc .invalid
    mov rax, 0x4400                  ; VM-instruction error
    vmread rsi, rax
    mov rdi, rbx
    mov edx, REC_VMFAIL_VALID
    jmp .rec
.invalid:
    xor esi, esi
    mov rdi, rbx
    mov edx, REC_VMFAIL_INVALID
.rec:
    call record
    EMIT_RECORD
    inc qword [CUR_INDEX]
    jmp next_state

; The VM exit (or VM-entry failure, SDM 27.8) lands here via host_rip_entry.
vmx_exit:
    mov ax, 0x10                     ; DS/ES come back as loaded from the host selectors; be explicit
    mov ds, ax
    mov es, ax
    mov rsp, STACK_TOP
    mov edx, REC_EXIT
    xor esi, esi
    xor edi, edi
    call record
    mov rbx, rcx
%assign k 0
%rep 7
    mov rax, [exit_fields + 8 * k]
    vmread rdx, rax
    mov [rbx + 8 + 8 * k], rdx
%assign k k + 1
%endrep
    mov rcx, rbx
    EMIT_RECORD
    inc qword [CUR_INDEX]
    jmp next_state

vmxon_failed:
%ifdef REPRO
    mov rsi, repro_msg_vmxon
    jmp repro_stop64
%else
    mov rsi, msg_vmxon
    call puts64
    xchg bx, bx
.hang:
    hlt
    jmp .hang
%endif

all_done:
    call record_end
%ifdef REPRO
    jmp repro_vmx_report
%else
    call emit_record
    xchg bx, bx                      ; magic breakpoint: the debugger script's `c` returns, `quit` ends Bochs
.hang:
    hlt
    jmp .hang
%endif

host_exception:
    pop rsi                          ; vector
    pop rdi                          ; error code
    cmp byte [probing], 0
    jne .probe
%ifdef REPRO
    cmp byte [repro_running], 0
    je repro_setup_fault
%endif
    mov edx, REC_HOST_EXC
    call record
%ifdef REPRO
    mov [rcx + 24], rbx              ; which instruction: vmfail's convention (encoding, -1 .. -3)
%endif
    EMIT_RECORD
    inc qword [CUR_INDEX]
    jmp next_state
.probe:
    ; RDMSR of a capability MSR the model lacks: all-ones, resume after the 2-byte RDMSR
    add qword [rsp], 2
    mov eax, 0xFFFFFFFF
    mov edx, 0xFFFFFFFF
    iretq

VMX_CAP_COUNT equ 0x11               ; IA32_VMX_BASIC (0x480) .. IA32_VMX_TRUE_ENTRY_CTLS (0x490)

probing: db 0

align 8
vmxon_ptr: dq HSAVE_PA
vmcs_ptr:  dq VMCS_PA

; The fields recorded after a VM exit, in record order (SDM App. B): exit reason, exit
; qualification, guest-physical address, exit interruption info, guest RIP, instruction length,
; IDT-vectoring info.
exit_fields: dq 0x4402, 0x6400, 0x2400, 0x4404, 0x681E, 0x440C, 0x4408

; Host-state defaults (SDM 25.5, checked by 27.2.2/27.2.3), written before the state's list.
host_defaults:
    dq 0x6C00, HOST_CR0_VMX          ; HOST_CR0
    dq 0x6C02, HOST_PML4             ; HOST_CR3
    dq 0x6C04, HOST_CR4_VMX          ; HOST_CR4
    dq 0x6C0A, HOST_TSS              ; HOST_TR_BASE
    dq 0x6C0C, HOST_GDT              ; HOST_GDTR_BASE
    dq 0x6C0E, HOST_IDT              ; HOST_IDTR_BASE
    dq 0x6C14, STACK_TOP             ; HOST_RSP
    dq 0x6C16, VMX_HOST_RIP          ; HOST_RIP
    dq 0x0C00, 0x10                  ; HOST_ES_SELECTOR
    dq 0x0C02, 0x08                  ; HOST_CS_SELECTOR
    dq 0x0C04, 0x10                  ; HOST_SS_SELECTOR
    dq 0x0C06, 0x10                  ; HOST_DS_SELECTOR
    dq 0x0C08, 0x10                  ; HOST_FS_SELECTOR
    dq 0x0C0A, 0x10                  ; HOST_GS_SELECTOR
    dq 0x0C0C, HOST_TR_SEL           ; HOST_TR_SELECTOR
    dq 0x2C02, HOST_EFER_VMX         ; HOST_IA32_EFER (used with the load-EFER exit control)
    dq 0xFFFFFFFF, 0

; Copied to HOST_GDT at boot: 0x08 64-bit code, 0x10 data, 0x18 32-bit code, 0x20 64-bit TSS.
align 8
gdt:
    dq 0
    dq 0x00AF9A000000FFFF
    dq 0x00CF92000000FFFF
    dq 0x00CF9A000000FFFF
    dw 0x0067, HOST_TSS & 0xFFFF
    db (HOST_TSS >> 16) & 0xFF, 0x89, 0x00, (HOST_TSS >> 24) & 0xFF
    dd 0, 0
gdt_end:
gdt_ptr:
    dw gdt_end - gdt - 1
    dq HOST_GDT

msg_caps:  db "@NF M", 0
msg_vmxon: db "@NF X vmxon", 10, 0

%ifdef REPRO
%include "vmx_repro.inc"
%endif
%include "host64.inc"
%include "record.inc"
%ifdef BOCHS
%include "bochs.inc"
%endif
%ifdef REPRO
%include "repro.inc"                 ; last: its data block label must end the image
%endif
