// Validates OpenAPI documents with @apidevtools/swagger-parser's validate():
// every $ref resolves and the document passes the OpenAPI 3.0 JSON schema.
// (Its further checks, such as path parameters matching the path, run on
// Swagger 2.0 documents only.) Usage: node validate.mjs MODULE_DIR FILE...
import { createRequire } from "node:module";
import path from "node:path";

const [moduleDir, ...files] = process.argv.slice(2);
const require = createRequire(path.join(moduleDir, "node_modules", "x.js"));
const SwaggerParser = require("@apidevtools/swagger-parser");

let failed = 0;
for (const file of files) {
  try {
    const api = await SwaggerParser.validate(file);
    console.log(`${file}: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
  } catch (err) {
    console.log(`${file}: INVALID: ${err.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
