namespace Wemu.Snapshot;

/// <summary>A field of <typeparamref name="TOwner"/> by reference (no reflection: trimming- and AOT-safe).</summary>
public delegate ref TField FieldRef<in TOwner, TField>(TOwner owner);

/// <summary>A span of <typeparamref name="TOwner"/>'s state (an array, native registers).</summary>
public delegate Span<TElement> SpanOf<in TOwner, TElement>(TOwner owner);

/// <summary>Something with state in a snapshot: a CPU, a device, the clock (one section each).</summary>
public interface IStateful
{
    /// <summary>The description's name and version (a section written by another version is refused).</summary>
    string StateName { get; }

    int StateVersion { get; }

    /// <summary>What this part is, for the machine's layout (a snapshot resumes only into the same layout).</summary>
    string StateLayout => StateName;

    void SaveState(StateWriter writer);

    void LoadState(StateReader reader);
}

/// <summary>
/// A type whose state one static <see cref="VmState{T}"/> describes: the section methods come from it.
/// </summary>
public interface IStateful<TSelf> : IStateful where TSelf : class, IStateful<TSelf>
{
    static abstract VmState<TSelf> State { get; }

    string IStateful.StateName => TSelf.State.Name;

    int IStateful.StateVersion => TSelf.State.Version;

    void IStateful.SaveState(StateWriter writer) => TSelf.State.Save((TSelf)this, writer);

    void IStateful.LoadState(StateReader reader) => TSelf.State.Load((TSelf)this, reader);
}

/// <summary>
/// One declarative description of a type's saved state, in the spirit of QEMU's VMStateDescription: named fields in
/// order, a version, a hook before saving (flush what is buffered) and one after loading (re-derive what is not
/// saved: TLBs, interrupt outputs). Each field is written as its name and its length-prefixed value, so a file
/// whose fields do not match this description field by field is refused by name, never loaded shifted.
/// </summary>
public sealed class VmState<T>(string name, int version) where T : class
{
    private readonly List<(string Name, Action<T, StateWriter> Save, Action<T, StateReader> Load)> _fields = [];
    private Action<T>? _preSave, _postLoad;

    public string Name { get; } = name;

    public int Version { get; } = version;

    public IEnumerable<string> FieldNames => _fields.Select(f => f.Name);

    public VmState<T> Field(string field, Action<T, StateWriter> save, Action<T, StateReader> load)
    {
        if (_fields.Any(f => f.Name == field))
            throw new ArgumentException($"{Name}: field {field} twice", nameof(field));
        _fields.Add((field, save, load));
        return this;
    }

    public VmState<T> U8(string field, FieldRef<T, byte> f) => Field(field, (o, w) => w.U8(f(o)), (o, r) => f(o) = r.U8());

    public VmState<T> Bool(string field, FieldRef<T, bool> f) => Field(field, (o, w) => w.Bool(f(o)), (o, r) => f(o) = r.Bool());

    public VmState<T> U16(string field, FieldRef<T, ushort> f) => Field(field, (o, w) => w.U16(f(o)), (o, r) => f(o) = r.U16());

    public VmState<T> U32(string field, FieldRef<T, uint> f) => Field(field, (o, w) => w.U32(f(o)), (o, r) => f(o) = r.U32());

    public VmState<T> I32(string field, FieldRef<T, int> f) => Field(field, (o, w) => w.I32(f(o)), (o, r) => f(o) = r.I32());

    public VmState<T> U64(string field, FieldRef<T, ulong> f) => Field(field, (o, w) => w.U64(f(o)), (o, r) => f(o) = r.U64());

    public VmState<T> U64s(string field, SpanOf<T, ulong> f) => Field(field, (o, w) => w.U64s(f(o)), (o, r) => r.U64s(f(o)));

    public VmState<T> U32s(string field, SpanOf<T, uint> f) => Field(field, (o, w) => w.U32s(f(o)), (o, r) => r.U32s(f(o)));

    public VmState<T> Bools(string field, SpanOf<T, bool> f) => Field(field, (o, w) => w.Bools(f(o)), (o, r) => r.Bools(f(o)));

    public VmState<T> Bytes(string field, SpanOf<T, byte> f) => Field(field, (o, w) => w.Blob(f(o)), (o, r) => r.BytesInto(f(o)));

    public VmState<T> PreSave(Action<T> action)
    {
        _preSave = action;
        return this;
    }

    public VmState<T> PostLoad(Action<T> action)
    {
        _postLoad = action;
        return this;
    }

    public void Save(T owner, StateWriter writer)
    {
        _preSave?.Invoke(owner);
        writer.U32((uint)_fields.Count);
        foreach (var (field, save, _) in _fields)
        {
            writer.String(field);
            var value = new StateWriter();
            save(owner, value);
            writer.Blob(value.WrittenSpan);
        }
    }

    public void Load(T owner, StateReader reader)
    {
        string where = reader.Where;
        uint count = reader.U32();
        if (count != (uint)_fields.Count)
            throw new SnapshotException($"snapshot section {where} has {count} fields where {Name} version {Version} has {_fields.Count}");
        foreach (var (field, _, load) in _fields)
        {
            string got = reader.String(256);
            if (got != field)
                throw new SnapshotException($"snapshot section {where}: field '{got}' where {Name} has '{field}'");
            var value = new StateReader(reader.Blob(), $"{where}.{field}") { Force = reader.Force, Note = reader.Note };
            load(owner, value);
            if (!value.AtEnd)
                throw new SnapshotException($"snapshot section {where}.{field} is longer than this machine's");
        }
        _postLoad?.Invoke(owner);
    }
}
