// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// For the benchmark (bench/uboot.ts): boot.cmd with a counter before every command, so a run reports how
// many U-Boot commands it executed.

const KEYWORDS = new Set(["if", "elif", "while", "then", "else", "do", "fi", "done", "for"]);

/**
 * Returns `script` with a counter increment (`setexpr fl_cc ${fl_cc} + 1`) before every simple command,
 * so a run leaves the number of U-Boot commands it executed in fl_cc (hex). For the benchmark only.
 */
export function instrumentCommandCount(script: string): string {
  const C = "setexpr fl_cc ${fl_cc} + 1";
  const out: string[] = ["setenv fl_cc 0"];
  for (const line of script.split("\n")) {
    if (line.trim().startsWith("#") || line.trim() === "") {
      out.push(line);
      continue;
    }
    let res = "";
    let i = 0;
    let atCmd = true;
    let quote = "";
    while (i < line.length) {
      if (atCmd) {
        const ws = /^\s*/.exec(line.slice(i))![0];
        res += ws;
        i += ws.length;
        const word = /^[^\s;]*/.exec(line.slice(i))![0];
        if (KEYWORDS.has(word)) {
          res += word;
          i += word.length;
          atCmd = word !== "fi" && word !== "done" && word !== "for";
          continue;
        }
        if (word === "") {
          atCmd = false;
          continue;
        }
        res += C + (line.slice(0, i).trimEnd().endsWith("&&") ? " && " : "; ");
        atCmd = false;
        continue;
      }
      const ch = line[i];
      if (quote) {
        if (ch === quote) quote = "";
      } else if (ch === "'" || ch === '"') quote = ch;
      else if (ch === ";" || (ch === "&" && line[i + 1] === "&")) {
        const len = ch === ";" ? 1 : 2;
        res += line.slice(i, i + len);
        i += len;
        atCmd = true;
        continue;
      }
      res += ch;
      i++;
    }
    out.push(res);
  }
  return out.join("\n");
}
