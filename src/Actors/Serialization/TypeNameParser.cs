namespace Fabric.Actors.Serialization;

/// <summary>
/// Parses an assembly-qualified CLR type name (as Hyperion writes it) into the type's full
/// name, its assembly's simple name (no version, culture or key) and its generic arguments;
/// array suffixes are dropped (an array is allowed when its element type is).
/// <c>System.Collections.Generic.List`1[[Fabric.X, Fabric.Actors, Version=1.0.0.0]], System.Private.CoreLib, Version=10.0.0.0</c>
/// gives <c>System.Collections.Generic.List`1</c> in <c>System.Private.CoreLib</c> with one argument <c>Fabric.X</c> in <c>Fabric.Actors</c>.
/// </summary>
internal static class TypeNameParser
{
    internal sealed record ParsedName(string FullName, string? Assembly, IReadOnlyList<ParsedName> Arguments);

    /// <summary>The parsed name, or throws <see cref="FormatException"/>.</summary>
    public static ParsedName? Parse(string name)
    {
        var position = 0;
        var parsed = ParseQualified(name, ref position, insideBrackets: false);
        SkipSpaces(name, ref position);
        if (position != name.Length)
        {
            throw new FormatException("trailing characters in type name");
        }

        return parsed;
    }

    private static ParsedName ParseQualified(string text, ref int position, bool insideBrackets)
    {
        SkipSpaces(text, ref position);
        var start = position;
        var arguments = new List<ParsedName>();
        while (position < text.Length && text[position] != ',' && text[position] != '[' && text[position] != ']')
        {
            position++;
        }

        var fullName = text[start..position].Trim();
        if (fullName.Length == 0)
        {
            throw new FormatException("empty type name");
        }

        // Generic arguments: [[A, asm],[B, asm]]
        if (position + 1 < text.Length && text[position] == '[' && text[position + 1] == '[')
        {
            position++;
            while (true)
            {
                Expect(text, ref position, '[');
                arguments.Add(ParseQualified(text, ref position, insideBrackets: true));
                Expect(text, ref position, ']');
                SkipSpaces(text, ref position);
                if (position < text.Length && text[position] == ',')
                {
                    position++;
                    SkipSpaces(text, ref position);
                    continue;
                }

                Expect(text, ref position, ']');
                break;
            }
        }

        // Array suffixes: [], [,], [*]
        while (position < text.Length && text[position] == '[')
        {
            position++;
            while (position < text.Length && (text[position] == ',' || text[position] == '*'))
            {
                position++;
            }

            Expect(text, ref position, ']');
        }

        string? assembly = null;
        SkipSpaces(text, ref position);
        if (position < text.Length && text[position] == ',')
        {
            position++;
            SkipSpaces(text, ref position);
            var assemblyStart = position;
            while (position < text.Length && text[position] != ',' && text[position] != ']')
            {
                position++;
            }

            assembly = text[assemblyStart..position].Trim();
            // Skip Version=, Culture=, PublicKeyToken= (any key=value part) and Hyperion's %core% marker.
            while (position < text.Length && text[position] == ',')
            {
                var save = position;
                position++;
                SkipSpaces(text, ref position);
                var partStart = position;
                while (position < text.Length && text[position] != ',' && text[position] != ']')
                {
                    position++;
                }

                var part = text.AsSpan(partStart, position - partStart).Trim();
                if (!part.Contains('=') && !part.SequenceEqual("%core%"))
                {
                    if (insideBrackets)
                    {
                        throw new FormatException("unexpected part in type name");
                    }

                    position = save;
                    break;
                }
            }
        }

        return new ParsedName(fullName, string.IsNullOrEmpty(assembly) ? null : assembly, arguments);
    }

    private static void Expect(string text, ref int position, char c)
    {
        SkipSpaces(text, ref position);
        if (position >= text.Length || text[position] != c)
        {
            throw new FormatException($"expected '{c}' in type name");
        }

        position++;
    }

    private static void SkipSpaces(string text, ref int position)
    {
        while (position < text.Length && text[position] == ' ')
        {
            position++;
        }
    }
}
