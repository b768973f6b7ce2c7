namespace Wemu.Jit.Ir;

/// <summary>
/// What an IR division does where the host's would trap: the translator chooses its guest's rule
/// (QEMU's front ends build theirs around a host-like divide in the same way).
/// </summary>
public enum IrDivision : byte
{
    /// <summary>Total, with RISC-V's results (Unpriv. 7.2): x / 0 = all ones, x % 0 = x, MIN / -1 = MIN, MIN % -1 = 0.</summary>
    Total,
    /// <summary>
    /// On x / 0 or MIN / -1 (and their remainders), leave compiled code with <see cref="CodeExit.Interpret"/>
    /// at the op's guest pc, its <see cref="IrInst.Completed"/> instructions retired: the guest's
    /// interpreter runs the instruction and raises its exception (x86 #DE).
    /// </summary>
    Exit,
}
