namespace Wemu.Net.Fetch;

/// <summary>
/// Terminates the guest's TLS in the page (HTTPS through fetch()): one server session per guest connection that
/// starts with a ClientHello, with a certificate for the name the guest asked for, signed by the page's own
/// certificate authority (which the guest must trust to verify it). Kept out of the core's dependencies: the page
/// brings an implementation (Wemu.Web's PageTlsTerminator, on BouncyCastle).
/// </summary>
public interface ITlsTerminator
{
    /// <summary>A server session; <paramref name="defaultName"/> is the certificate's name when the ClientHello has no SNI.</summary>
    ITlsServerSession Accept(string defaultName);
}
