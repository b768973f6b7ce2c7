using System.Text;

namespace Wemu.Machines;

/// <summary>
/// Splits one string of QEMU flags (the page's <c>?args=</c>, a string <c>args</c> option) into the
/// words <see cref="QemuCommandLine.Parse"/> takes, as a POSIX shell would for plain words and quotes:
/// blanks separate, '…' keeps everything, "…" keeps everything but \" and \\, a backslash outside
/// quotes escapes the next character. No expansions: <c>$</c>, <c>*</c> and <c>~</c> are plain characters.
/// </summary>
public static class ShellWords
{
    public static List<string> Split(string text)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(cur.ToString());
                    cur.Clear();
                    inWord = false;
                }
                continue;
            }
            inWord = true;
            switch (c)
            {
                case '\'':
                {
                    int end = text.IndexOf('\'', i + 1);
                    if (end < 0)
                        throw new ConfigException("unterminated ' in the flags");
                    cur.Append(text, i + 1, end - i - 1);
                    i = end;
                    break;
                }
                case '"':
                {
                    int j = i + 1;
                    for (; j < text.Length && text[j] != '"'; j++)
                    {
                        if (text[j] == '\\' && j + 1 < text.Length && text[j + 1] is '"' or '\\')
                            j++;
                        cur.Append(text[j]);
                    }
                    if (j >= text.Length)
                        throw new ConfigException("unterminated \" in the flags");
                    i = j;
                    break;
                }
                case '\\' when i + 1 < text.Length:
                    cur.Append(text[++i]);
                    break;
                default:
                    cur.Append(c);
                    break;
            }
        }
        if (inWord)
            words.Add(cur.ToString());
        return words;
    }
}
