// Lists the functions of provider/src longer than a limit (default 80 lines), longest first, so
// a review sees where one function does too much. A function may stay long when the comment
// right above it says why ("long:" in its doc comment). Exits 1 when any other is over.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const limit = Number(process.argv[2] ?? 80);
const rows = [];
const files = readdirSync("provider/src", { recursive: true })
  .map((f) => path.join("provider/src", String(f)))
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".gen.ts"));
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      const end = source.getLineAndCharacterOfPosition(node.end).line + 1;
      const name = node.name?.getText() ?? "(anonymous)";
      const excused = /long:/.test(
        ts
          .getLeadingCommentRanges(text, node.getFullStart())
          ?.map((r) => text.slice(r.pos, r.end))
          .join("") ?? "",
      );
      rows.push({ lines: end - start + 1, where: `${file}:${start}`, name, excused });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
rows.sort((a, b) => b.lines - a.lines);
const top = Number(process.env.TOP ?? 12);
for (const r of rows.slice(0, top))
  console.log(
    `${String(r.lines).padStart(4)}  ${r.where}  ${r.name}${r.excused ? "  (reason given)" : ""}`,
  );
const over = rows.filter((r) => r.lines > limit && !r.excused);
if (over.length) {
  console.error(`${over.length} function(s) over ${limit} lines without a reason next to them`);
  process.exit(1);
}
