namespace Wemu.Jit;

/// <summary>
/// Arrays a compiler keeps from one region to the next instead of allocating them per region (in the page, Mono's
/// interpreter makes every allocation and clear count): grown when a region needs more, contents not kept.
/// </summary>
internal static class ScratchArray
{
    /// <summary><paramref name="array"/>, replaced first by a larger one if it has fewer than <paramref name="n"/> elements (or is
    /// null: a <c>[ThreadStatic]</c> field on a thread that has not compiled yet).</summary>
    public static T[] Ensure<T>(ref T[] array, int n)
    {
        if (array is null || array.Length < n)
            array = new T[Math.Max(n, Math.Max(64, (array?.Length ?? 0) * 2))];
        return array;
    }
}
