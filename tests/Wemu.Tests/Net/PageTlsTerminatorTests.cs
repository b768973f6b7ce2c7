using System.Text;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Org.BouncyCastle.X509;
using Wemu.Net;
using Wemu.Net.Fetch;
using Wemu.Web;
using Xunit;

namespace Wemu.Tests.Net;

/// <summary>
/// HTTPS in the page: a guest's TLS connection through <see cref="FetchProxyConnection"/> terminated by
/// <see cref="PageTlsTerminator"/>, checked with BouncyCastle's TLS client as the guest: the certificate is the
/// page CA's for the name asked, the request is fetched as https, the answer comes back encrypted; TLS 1.2 and 1.3.
/// </summary>
public sealed class PageTlsTerminatorTests
{
    private static readonly PageTlsTerminator s_tls = new();   // one CA for the class: key generation is the slow part
    private readonly FakeFetchClient _fetch = new();
    private readonly List<string> _log = [];

    /// <summary>The guest's TLS client: offers one version, records the server's certificates and the SNI it sent.</summary>
    private sealed class GuestClient(TlsCrypto crypto, ProtocolVersion version, string? sni) : DefaultTlsClient(crypto)
    {
        public X509Certificate[] Chain = [];

        protected override ProtocolVersion[] GetSupportedVersions() => [version];

        protected override IList<ServerName>? GetSniServerNames() =>
            sni == null ? null : [new ServerName(NameType.host_name, Encoding.ASCII.GetBytes(sni))];

        public override TlsAuthentication GetAuthentication() => new Authentication(this);

        private sealed class Authentication(GuestClient client) : TlsAuthentication
        {
            public void NotifyServerCertificate(TlsServerCertificate serverCertificate) =>
                client.Chain = [.. serverCertificate.Certificate.GetCertificateList().Select(c => new X509Certificate(c.GetEncoded()))];

            public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
        }
    }

    /// <summary>Runs the client against the connection: handshake, the request, and everything decrypted until the end.</summary>
    private static (string Response, GuestClient Client) Exchange(IHostTcpSocket s, ProtocolVersion version, string? sni, string request,
        Action? whileWaiting = null)
    {
        var crypto = new BcTlsCrypto(new SecureRandom());
        var client = new GuestClient(crypto, version, sni);
        var protocol = new TlsClientProtocol();
        protocol.Connect(client);
        var buffer = new byte[65536];
        var received = new StringBuilder();
        bool sent = false;
        for (int round = 0; round < 10_000; round++)
        {
            int pending = protocol.GetAvailableOutputBytes();
            if (pending > 0)
            {
                var bytes = new byte[pending];
                protocol.ReadOutput(bytes, 0, pending);
                Assert.Equal(pending, s.Send(bytes));
            }
            if (!protocol.IsHandshaking && !sent)
            {
                var r = Encoding.ASCII.GetBytes(request);
                protocol.WriteApplicationData(r, 0, r.Length);
                sent = true;
                continue;
            }
            whileWaiting?.Invoke();
            int n = s.Receive(buffer);
            if (n > 0)
                protocol.OfferInput(buffer, 0, n);
            else if (n == 0 || n == IHostTcpSocket.Error)
                break;
            int available = protocol.GetAvailableInputBytes();
            if (available > 0)
            {
                var plain = new byte[available];
                protocol.ReadInput(plain, 0, available);
                received.Append(Encoding.Latin1.GetString(plain));
            }
        }
        return (received.ToString(), client);
    }

    private FetchNetworkHost Host(string page = "http://127.0.0.1:8000/") => new(_fetch, page, _log.Add) { Tls = s_tls };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Https_To_A_Name_Is_Terminated_With_A_Certificate_For_It_From_The_Page_Ca_And_Fetched_As_Https(bool tls13)
    {
        var host = Host();
        var body = Enumerable.Range(0, 100_000).Select(i => (byte)('a' + i % 26)).ToArray();
        _fetch.Answer = _ => (200, body, body.Length);
        var s = host.ConnectTcp(host.Resolve("secure.example"), 443);
        var (response, client) = Exchange(s, tls13 ? ProtocolVersion.TLSv13 : ProtocolVersion.TLSv12, "secure.example",
            "GET /data HTTP/1.1\r\nHost: secure.example\r\nConnection: close\r\n\r\n");
        Assert.Equal("https://secure.example/data", _fetch.Started.Single().Request.Url);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response);
        Assert.EndsWith("\r\n\r\n" + Encoding.ASCII.GetString(body), response);

        // The chain: a certificate for the name, signed by the CA the page publishes.
        var ca = new X509CertificateParser().ReadCertificate(Encoding.ASCII.GetBytes(s_tls.CaCertificatePem));
        var leaf = client.Chain[0];
        leaf.Verify(ca.GetPublicKey());
        ca.Verify(ca.GetPublicKey());
        Assert.Contains(leaf.GetSubjectAlternativeNames(), n => (string)n[1] == "secure.example");
        Assert.True(ca.GetBasicConstraints() >= 0);
    }

    [Fact]
    public void Https_To_The_Gateway_Without_Sni_Gets_A_Certificate_For_10_0_2_2_And_Fetches_The_Pages_Origin()
    {
        var host = Host();
        _fetch.Answer = _ => (200, "page"u8.ToArray(), 4);
        var s = host.ConnectTcp(UserNetwork.HostLoopback, 8000);
        var (response, client) = Exchange(s, ProtocolVersion.TLSv12, null, "GET /x HTTP/1.1\r\nHost: 10.0.2.2\r\nConnection: close\r\n\r\n");
        Assert.Equal("http://127.0.0.1:8000/x", _fetch.Started.Single().Request.Url);   // the page's own origin, with its scheme
        Assert.EndsWith("\r\n\r\npage", response);
        Assert.Contains(client.Chain[0].GetSubjectAlternativeNames(), n => (string)n[1] == "10.0.2.2");
    }

    [Fact]
    public void A_Failed_Fetch_Over_Https_Is_A_502_Inside_The_Tls_Connection()
    {
        var host = Host();
        var s = host.ConnectTcp(host.Resolve("nocors.example"), 443);
        var (response, _) = Exchange(s, ProtocolVersion.TLSv13, "nocors.example", "GET / HTTP/1.1\r\nHost: nocors.example\r\nConnection: close\r\n\r\n",
            () => { if (_fetch.Started.Count == 1 && !_fetch.Started[0].HasResponse && _fetch.Started[0].Failure == null) _fetch.Started[0].Fail("TypeError: Failed to fetch"); });
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway\r\n", response);
        Assert.Contains("https://nocors.example/", response);
    }

    [Fact]
    public void Garbage_After_A_Handshake_Record_Header_Fails_The_Session_And_Ends_The_Connection()
    {
        var host = Host();
        var s = host.ConnectTcp(host.Resolve("bad.example"), 443);
        var garbage = new byte[300];
        garbage[0] = 0x16;
        garbage[1] = 3;
        garbage[2] = 1;
        garbage[3] = 0x01;
        garbage[4] = 0x20;
        for (int i = 5; i < garbage.Length; i++)
            garbage[i] = (byte)(i * 13);
        Assert.Equal(garbage.Length, s.Send(garbage));
        // An alert if BouncyCastle queued one, then the end of the stream (never a hang, never an HTTP answer).
        var buffer = new byte[4096];
        int n = s.Receive(buffer);
        if (n > 0)
        {
            Assert.Equal(0x15, buffer[0]);
            n = s.Receive(buffer);
        }
        Assert.Equal(0, n);
        Assert.Contains(_log, l => l.Contains("TLS"));
        Assert.Empty(_fetch.Started);
    }
}
