using System.Net;
using System.Text;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Operators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Org.BouncyCastle.X509;
using Wemu.Net.Fetch;

namespace Wemu.Web;

/// <summary>
/// HTTPS for the guest in the page: a certificate authority made for this page (an ECDSA P-256 key, made when the
/// network starts and never kept), and per name a server certificate it signs, served by BouncyCastle's TLS server
/// (TLS 1.2 and 1.3, ECDHE with ECDSA; managed code only, so it runs on .NET's WebAssembly runtime). The guest
/// trusts the CA by installing <see cref="CaCertificatePem"/> (the page puts it on the /mnt/host share); a guest
/// that does not verify certificates (BusyBox wget) needs nothing. Server certificates are cached by name, at most
/// <see cref="MaxCertificates"/>. No browser API here, so the tests run it natively.
/// </summary>
public sealed class PageTlsTerminator : ITlsTerminator
{
    public const int MaxCertificates = 64;

    private readonly SecureRandom _random = new();
    private readonly BcTlsCrypto _crypto;
    private readonly AsymmetricCipherKeyPair _caKey, _serverKey;
    private readonly X509Certificate _ca;
    private readonly Dictionary<string, X509Certificate> _certificates = new(StringComparer.OrdinalIgnoreCase);
    private long _serial = 2;

    public PageTlsTerminator()
    {
        _crypto = new BcTlsCrypto(_random);
        _caKey = NewKey();
        _serverKey = NewKey();   // one key for every server certificate: a key pair per name would cost a generation each
        var name = new X509Name("O=Wemu,CN=Wemu page CA " + DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + " UTC");
        var g = new X509V3CertificateGenerator();
        g.SetSerialNumber(BigInteger.One);
        g.SetIssuerDN(name);
        g.SetSubjectDN(name);
        g.SetNotBefore(DateTime.UtcNow.AddDays(-1));
        g.SetNotAfter(DateTime.UtcNow.AddDays(30));
        g.SetPublicKey(_caKey.Public);
        g.AddExtension(X509Extensions.BasicConstraints, true, new BasicConstraints(0));
        g.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(KeyUsage.KeyCertSign | KeyUsage.CrlSign));
        _ca = g.Generate(new Asn1SignatureFactory("SHA256WITHECDSA", _caKey.Private, _random));
        CaCertificatePem = Pem(_ca.GetEncoded());
    }

    /// <summary>The CA's certificate, PEM: what the guest installs to trust the page's HTTPS.</summary>
    public string CaCertificatePem { get; }

    public ITlsServerSession Accept(string defaultName) => new Session(this, defaultName);

    private AsymmetricCipherKeyPair NewKey()
    {
        var generator = new ECKeyPairGenerator();
        generator.Init(new ECKeyGenerationParameters(SecObjectIdentifiers.SecP256r1, _random));
        return generator.GenerateKeyPair();
    }

    /// <summary>The server certificate for <paramref name="name"/> (a DNS name or an IPv4 address), made once.</summary>
    private X509Certificate CertificateFor(string name)
    {
        if (_certificates.TryGetValue(name, out var known))
            return known;
        if (_certificates.Count >= MaxCertificates)
            _certificates.Remove(_certificates.Keys.First());
        var g = new X509V3CertificateGenerator();
        g.SetSerialNumber(BigInteger.ValueOf(_serial++));
        g.SetIssuerDN(_ca.SubjectDN);
        g.SetSubjectDN(new X509Name("CN=" + name.Replace(",", "", StringComparison.Ordinal).Replace("=", "", StringComparison.Ordinal)));
        g.SetNotBefore(DateTime.UtcNow.AddDays(-1));
        g.SetNotAfter(DateTime.UtcNow.AddDays(30));
        g.SetPublicKey(_serverKey.Public);
        var altName = IPAddress.TryParse(name, out _) ? new GeneralName(GeneralName.IPAddress, name) : new GeneralName(GeneralName.DnsName, name);
        g.AddExtension(X509Extensions.SubjectAlternativeName, false, new GeneralNames(altName));
        g.AddExtension(X509Extensions.BasicConstraints, true, new BasicConstraints(false));
        g.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(KeyUsage.DigitalSignature));
        g.AddExtension(X509Extensions.ExtendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeID.id_kp_serverAuth));
        var certificate = g.Generate(new Asn1SignatureFactory("SHA256WITHECDSA", _caKey.Private, _random));
        _certificates[name] = certificate;
        return certificate;
    }

    private static string Pem(byte[] der)
    {
        var s = new StringBuilder("-----BEGIN CERTIFICATE-----\n");
        var b64 = Convert.ToBase64String(der);
        for (int i = 0; i < b64.Length; i += 64)
            s.Append(b64, i, Math.Min(64, b64.Length - i)).Append('\n');
        return s.Append("-----END CERTIFICATE-----\n").ToString();
    }

    /// <summary>BouncyCastle's TLS server with the page's certificates: ECDHE-ECDSA suites, TLS 1.2 and 1.3.</summary>
    private sealed class Server(PageTlsTerminator owner, string defaultName) : DefaultTlsServer(owner._crypto)
    {
        public string? ServerName;

        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv13.DownTo(ProtocolVersion.TLSv12);

        protected override int[] GetSupportedCipherSuites() => TlsUtilities.GetSupportedCipherSuites(Crypto,
        [
            CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_CHACHA20_POLY1305_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384,
            CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
            CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        ]);

        public override void ProcessClientExtensions(IDictionary<int, byte[]> clientExtensions)
        {
            base.ProcessClientExtensions(clientExtensions);
            var names = TlsExtensionsUtilities.GetServerNameExtensionClient(clientExtensions);
            if (names != null)
                foreach (var n in names)
                    if (n.NameType == NameType.host_name)
                        ServerName = Encoding.ASCII.GetString(n.NameData);
        }

        public override TlsCredentials GetCredentials() => GetECDsaSignerCredentials();

        protected override TlsCredentialedSigner GetECDsaSignerCredentials()
        {
            var name = ServerName is { Length: > 0 and <= 253 } sni ? sni : defaultName;
            var certificate = owner.CertificateFor(name);
            var chain = new TlsCertificate[] { new BcTlsCertificate(owner._crypto, certificate.GetEncoded()), new BcTlsCertificate(owner._crypto, owner._ca.GetEncoded()) };
            var tlsCertificate = TlsUtilities.IsTlsV13(m_context)
                ? new Certificate(TlsUtilities.EmptyBytes, chain.Select(c => new CertificateEntry(c, null)).ToArray())
                : new Certificate(chain);
            return new BcDefaultTlsCredentialedSigner(new TlsCryptoParameters(m_context), owner._crypto, owner._serverKey.Private,
                tlsCertificate, SignatureAndHashAlgorithm.GetInstance(HashAlgorithm.sha256, SignatureAlgorithm.ecdsa));
        }
    }

    private sealed class Session : ITlsServerSession
    {
        private readonly TlsServerProtocol _protocol = new();
        private readonly Server _server;
        private byte[] _scratch = new byte[4096];

        public Session(PageTlsTerminator owner, string defaultName)
        {
            _server = new Server(owner, defaultName);
            Guard(() => _protocol.Accept(_server));
        }

        public int PlaintextAvailable => Error == null ? _protocol.GetAvailableInputBytes() : 0;

        public int CiphertextAvailable => _protocol.GetAvailableOutputBytes();

        public bool IsHandshakeComplete { get; private set; }

        public string? ServerName => _server.ServerName;

        public string? Error { get; private set; }

        public bool IsClosed => _protocol.IsClosed;

        public bool Offer(ReadOnlySpan<byte> ciphertext)
        {
            if (Error != null)
                return false;
            if (_scratch.Length < ciphertext.Length)
                _scratch = new byte[ciphertext.Length];
            ciphertext.CopyTo(_scratch);
            int length = ciphertext.Length;
            Guard(() => _protocol.OfferInput(_scratch, 0, length));
            if (Error == null && !_protocol.IsHandshaking)
                IsHandshakeComplete = true;
            return Error == null;
        }

        public int ReadPlaintext(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, PlaintextAvailable);
            if (n == 0)
                return 0;
            var bytes = new byte[n];
            int read = 0;
            Guard(() => read = _protocol.ReadInput(bytes, 0, n));
            bytes.AsSpan(0, read).CopyTo(buffer);
            return read;
        }

        public void WritePlaintext(ReadOnlySpan<byte> plaintext)
        {
            var bytes = plaintext.ToArray();
            Guard(() => _protocol.WriteApplicationData(bytes, 0, bytes.Length));
        }

        public int ReadCiphertext(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, _protocol.GetAvailableOutputBytes());
            var bytes = new byte[n];
            n = _protocol.ReadOutput(bytes, 0, n);
            bytes.AsSpan(0, n).CopyTo(buffer);
            return n;
        }

        /// <summary>BouncyCastle reports a bad handshake or record by throwing; the stack wants a state instead.</summary>
        private void Guard(Action action)
        {
            try
            {
                action();
            }
            catch (TlsFatalAlert e)
            {
                Error ??= $"TLS alert {AlertDescription.GetText(e.AlertDescription)}";
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException or CryptoException)
            {
                Error ??= $"TLS: {e.Message}";
            }
        }
    }
}
