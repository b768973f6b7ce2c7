namespace Wemu.Net.Fetch;

/// <summary>
/// One TLS server connection driven by bytes, without a stream: ciphertext from the guest goes in
/// (<see cref="Offer"/>), plaintext comes out (<see cref="ReadPlaintext"/>); plaintext for the guest goes in
/// (<see cref="WritePlaintext"/>) and ciphertext comes out (<see cref="ReadCiphertext"/>). Never blocks, never
/// throws into the stack: a fatal error sets <see cref="Error"/>.
/// </summary>
public interface ITlsServerSession
{
    /// <summary>Takes ciphertext from the guest; false once the session failed (the alert, if any, is waiting in the output).</summary>
    bool Offer(ReadOnlySpan<byte> ciphertext);

    /// <summary>Decrypted application bytes waiting.</summary>
    int PlaintextAvailable { get; }

    int ReadPlaintext(Span<byte> buffer);

    /// <summary>Encrypts application bytes for the guest (after the handshake).</summary>
    void WritePlaintext(ReadOnlySpan<byte> plaintext);

    /// <summary>Bytes waiting to go to the guest (handshake messages, records, alerts).</summary>
    int CiphertextAvailable { get; }

    int ReadCiphertext(Span<byte> buffer);

    bool IsHandshakeComplete { get; }

    /// <summary>The name of the ClientHello's server_name extension, if it had one.</summary>
    string? ServerName { get; }

    /// <summary>Why the session failed, or null.</summary>
    string? Error { get; }

    /// <summary>True once the guest sent close_notify.</summary>
    bool IsClosed { get; }
}
