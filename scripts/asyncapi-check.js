// Validates an AsyncAPI document with the reference parser (@asyncapi/parser, installed by
// scripts/install-deps): prints every diagnostic and exits 1 if any is an error or a warning.
// Usage: NODE_PATH=<dir>/node_modules node scripts/asyncapi-check.js FILE
const fs = require("fs");
const { Parser } = require("@asyncapi/parser");

async function main() {
  const file = process.argv[2];
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(file, "utf8"));
  // Severity: 0 error, 1 warning, 2 information, 3 hint.
  const serious = diagnostics.filter((d) => d.severity <= 1);
  for (const d of diagnostics) {
    console.log(`${["error", "warning", "info", "hint"][d.severity]} ${d.code} at ${JSON.stringify(d.path)}: ${d.message}`);
  }
  if (!document || serious.length > 0) {
    console.log(`asyncapi-check: ${serious.length} errors or warnings`);
    process.exit(1);
  }
  console.log(`asyncapi-check: valid AsyncAPI ${document.version()}, ${document.channels().length} channels`);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
