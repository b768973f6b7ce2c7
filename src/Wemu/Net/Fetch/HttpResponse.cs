namespace Wemu.Net.Fetch;

/// <summary>An HTTP/1.x response a server in the guest sent, parsed, with its body whole.</summary>
public sealed record HttpResponse(int Status, string Reason, HttpFields Fields, byte[] Body);
