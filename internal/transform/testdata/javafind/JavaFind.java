// JavaFind writes golden.txt, java.util.regex's answers for the tests of
// javaRegexp (javafind_test.go): for each pattern and input, every match of
// Matcher.find()'s loop, with its groups, and whether Matcher.matches().
// It draws patterns from a grammar of constructs both Java and Go's RE2
// accept with one meaning, plus fixed cases. Run it with Java 17+:
//
//	java JavaFind.java > golden.txt
//
// Each line: hex(pattern) hex(input) matches find, where find is the
// matches separated by ';', each "start,end,g1start,g1end,..." in UTF-8
// byte offsets (-1 for a group that took no part), or "-" for none.
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class JavaFind {
    static Random rnd = new Random(20240611L);

    static String pick(String... xs) { return xs[rnd.nextInt(xs.length)]; }

    static String quant() { return pick("", "", "", "*", "+", "?", "{1,2}", "*?", "??"); }

    static String pattern(int depth, List<String> names) {
        StringBuilder b = new StringBuilder();
        int n = 1 + rnd.nextInt(3);
        for (int i = 0; i < n; i++) {
            if (depth > 0 && rnd.nextInt(4) == 0) {
                String open = pick("(", "(", "(?:", "(?<g>", "(?<h>");
                if (open.startsWith("(?<")) {
                    if (names.contains(open)) { open = "("; } else { names.add(open); }
                }
                b.append(open).append(pattern(depth - 1, names)).append(")").append(quant());
            } else if (rnd.nextInt(6) == 0) {
                b.append(pick("^", "$", "\\b", "\\B", "(?m:^)", "(?m:$)"));
            } else {
                b.append(pick("a", "b", "\u00e9", "/", "\\.", ".", "[ab]", "[^/]", "x", "ab", "\n")).append(quant());
            }
        }
        if (rnd.nextInt(5) == 0) {
            b.append("|").append(pattern(depth - 1, names));
        }
        return b.toString();
    }

    static String input() {
        StringBuilder b = new StringBuilder();
        int n = rnd.nextInt(10);
        for (int i = 0; i < n; i++) {
            b.append(pick("a", "b", "/", "\u00e9", "x", ".", "k", "=", ";", " ", "\n", "ab", "\u20ac"));
        }
        return b.toString();
    }

    static int utf8(String s, int i) {
        return i < 0 ? -1 : s.substring(0, i).getBytes(StandardCharsets.UTF_8).length;
    }

    static void emit(String p, String in) {
        Matcher m = Pattern.compile(p).matcher(in);
        StringBuilder f = new StringBuilder();
        while (m.find()) {
            if (f.length() > 0) f.append(';');
            for (int g = 0; g <= m.groupCount(); g++) {
                if (g > 0) f.append(',');
                f.append(utf8(in, m.start(g))).append(',').append(utf8(in, m.end(g)));
            }
        }
        HexFormat hex = HexFormat.of();
        System.out.println(hex.formatHex(p.getBytes(StandardCharsets.UTF_8)) + " "
                + hex.formatHex(in.getBytes(StandardCharsets.UTF_8)) + " "
                + Pattern.compile(p).matcher(in).matches() + " "
                + (f.length() == 0 ? "-" : f.toString()));
    }

    public static void main(String[] args) {
        String[][] fixed = {
            {"a*", "baaac"}, {"(_total)?$", "foo_total"}, {"a|\\b", "a b"}, {"a|\\B", "ab"},
            {"\n|(?m)^", "a\nb"}, {"(.*)", "abc"}, {"a(b)?c", "ac"}, {"", "ab"}, {"\u00e9*", "\u00e9\u00e9\u20ac"},
            {"cat/([^/]*)/dog", "cat/x/dogs"}, {"a|ab", "ab"}, {"x*$", "abxx"}, {"(foo)?", "foobar"},
        };
        for (String[] c : fixed) emit(c[0], c[1]);
        for (int i = 0; i < 700; i++) {
            String p = pattern(2, new ArrayList<>());
            for (int j = 0; j < 3; j++) emit(p, input());
        }
    }
}
