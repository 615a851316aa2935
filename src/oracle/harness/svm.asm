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
    ; The adapter streams the state pages into the RAM file while QEMU boots and runs (qemu.ts),
    ; raising the header's ready count after each run of pages: state i waits until i < ready.
    ; The file is shared memory and x86 stores become visible in order, so the pages are in place
    ; before the count that covers them (Bochs and the reproducers load all states: ready = count).
wait_ready:
    cmp eax, [INPUT_HDR + 12]
    jb state_ready
    pause
    jmp wait_ready
state_ready:
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
    call record_end
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

%ifdef REPRO
; ---------------------------------------------------------------------------------------------
; The reproducer's SVM side (harness/repro.inc has the data-block loader and the output).
; Expected verdicts in the data block (48 bytes each): kind REPRO_EXP_*, a mask of REPRO_F_*, then
; exit_code (or the vector), exit_info_1, exit_info_2, exit_int_info (0 unless its V bit is set).
REPRO_EXP_EXIT   equ 0            ; #VMEXIT or VMEXIT_INVALID: compare exit_code bits 31:0 and the masked fields
REPRO_EXP_HOSTEXC equ 1           ; VMRUN raised exception `exit_code` in L1
REPRO_EXP_OTHER  equ 2            ; no hardware counterpart (KVM-only outcome, L2 never exits): never matches
REPRO_F_INFO1    equ 1
REPRO_F_INFO2    equ 2
REPRO_F_INTINFO  equ 4

bits 32
; repro.inc's boot asks whether this CPU can run the state: SVM is CPUID 0x80000001 ECX bit 2
; (APM 15.4). esi = 0, or the message to stop with.
repro_feature_check:
    mov eax, 0x80000001
    cpuid
    xor esi, esi
    test ecx, 1 << 2
    jnz .ok
    mov esi, repro_msg_no_svm
.ok:
    ret

; REPRO_FIELD reg, offset, name: print the record's field at [rbx + offset] (rax for a u64,
; eax for a u32) after its name.
%macro REPRO_FIELD 3
    mov %1, [rbx + %2]
    mov rsi, %3
    call repro_field
%endmacro

bits 64
; Reached from all_done: the state's record is at RECORDS (index 0).
repro_report:
    mov rsp, STACK_TOP
    ; L1's CPU as the harness dumped it (layout.ts CPUID_LEAVES: 0x80000008 is the 4th, 0x8000000A the 5th).
    mov rsi, repro_msg_cpu
    call repro_puts64
    mov eax, [CPUID_DUMP + 3 * 16]
    and eax, 0xFF
    mov rsi, repro_msg_maxphyaddr
    call repro_field
    mov eax, [CPUID_DUMP + 4 * 16 + 12]
    mov rsi, repro_msg_svm_edx
    call repro_field
    mov al, 10
    call repro_putc64

    mov ebx, RECORDS
    mov rsi, repro_msg_observed
    call repro_puts64
    mov eax, [rbx + 4]
    cmp eax, REC_EXIT
    je .exit
    cmp eax, REC_HOST_EXC
    je .exc
    mov rsi, repro_msg_no_record
    call repro_puts64
    jmp .match
.exit:
    REPRO_FIELD rax, 8, repro_f_exit_code
    REPRO_FIELD rax, 16, repro_f_info1
    REPRO_FIELD rax, 24, repro_f_info2
    REPRO_FIELD eax, 32, repro_f_intinfo
    REPRO_FIELD eax, 36, repro_f_intinfo_err
    REPRO_FIELD rax, 40, repro_f_rip
    REPRO_FIELD rax, 48, repro_f_next_rip
    jmp .match
.exc:
    mov rsi, repro_msg_exc
    call repro_puts64
    REPRO_FIELD rax, 8, repro_f_vector
    REPRO_FIELD rax, 16, repro_f_error_code

    ; r12: expected verdicts matched on exit_code bits 31:0 (and the defined fields); r13: of
    ; those, the ones whose exit_code is equal in all 64 bits.
.match:
    mov al, 10
    call repro_putc64
    xor r12d, r12d
    xor r13d, r13d
    mov edi, [repro_data + 16]
    add rdi, repro_data
    xor ecx, ecx
.exp:
    cmp ecx, [repro_data + 12]
    jae .say
    mov eax, [rdi]
    cmp eax, REPRO_EXP_EXIT
    je .exp_exit
    cmp eax, REPRO_EXP_HOSTEXC
    jne .exp_next
    cmp dword [rbx + 4], REC_HOST_EXC
    jne .exp_next
    mov rax, [rbx + 8]
    cmp rax, [rdi + 8]
    jne .exp_next
    bts r12, rcx
    bts r13, rcx
    jmp .exp_next
.exp_exit:
    cmp dword [rbx + 4], REC_EXIT
    jne .exp_next
    mov eax, [rbx + 8]
    cmp eax, [rdi + 8]
    jne .exp_next
    test dword [rdi + 4], REPRO_F_INFO1
    jz .info2
    mov rax, [rbx + 16]
    cmp rax, [rdi + 16]
    jne .exp_next
.info2:
    test dword [rdi + 4], REPRO_F_INFO2
    jz .intinfo
    mov rax, [rbx + 24]
    cmp rax, [rdi + 24]
    jne .exp_next
.intinfo:
    test dword [rdi + 4], REPRO_F_INTINFO
    jz .exp_hit
    ; EXITINTINFO without its V bit (31) carries nothing: it compares as 0.
    mov rax, [rbx + 32]
    bt eax, 31
    jc .intinfo_cmp
    xor eax, eax
.intinfo_cmp:
    cmp rax, [rdi + 32]
    jne .exp_next
.exp_hit:
    bts r12, rcx
    mov rax, [rbx + 8]
    cmp rax, [rdi + 8]
    jne .exp_next
    bts r13, rcx
.exp_next:
    add rdi, REPRO_EXP_SIZE
    inc ecx
    jmp .exp

.say:
    mov rdx, r12
    call repro_say_matches
    ; More than one matched on bits 31:0 and the 64-bit exit_code tells some apart: say which.
    mov rax, r12
    lea rdx, [rax - 1]
    test rax, rdx
    jz repro_end
    test r13, r13
    jz repro_end
    cmp r13, r12
    je repro_end
    mov rsi, repro_msg_all64
    call repro_puts64
    mov rdx, r13
    call repro_labels
    jmp repro_end

repro_msg_no_svm:    db 'cannot run: this CPU has no SVM (CPUID 0x80000001 ECX bit 2 is clear): boot it on an AMD host, or under QEMU TCG with -cpu qemu64,+svm,+npt', 10, 0
repro_msg_svm_edx:   db 'CPUID 0x8000000A EDX', 0
repro_msg_no_record: db ' no record (the harness did not reach VMRUN)', 0
repro_msg_exc:       db ' VMRUN raised an exception in L1:', 0
repro_f_exit_code:   db 'exit_code', 0
repro_f_info1:       db 'exit_info_1', 0
repro_f_info2:       db 'exit_info_2', 0
repro_f_intinfo:     db 'exit_int_info', 0
repro_f_intinfo_err: db 'exit_int_info_err', 0
repro_f_rip:         db 'rip', 0
repro_f_next_rip:    db 'next_rip', 0
repro_f_vector:      db 'vector', 0
repro_f_error_code:  db 'error_code', 0
repro_msg_all64:     db '; with all 64 bits of exit_code: ', 0
%endif

%include "host64.inc"
%include "record.inc"
%ifdef BOCHS
%include "bochs.inc"
%endif
%ifdef REPRO
%include "repro.inc"                 ; last: its data block label must end the image
%endif
