// Validate an AsyncAPI document with the official parser (@asyncapi/parser) and its Avro schema
// parser, as tests/test_contracts.py runs it: `node .ci/node/validate-asyncapi.mjs docs/asyncapi.yaml`.
// Prints every diagnostic (severity 0 = error) as JSON lines; exit 1 when there is an error.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';

const path = process.argv[2];
const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const { document, diagnostics } = await parser.parse(readFileSync(path, 'utf8'), { source: path });
for (const d of diagnostics) {
  console.log(JSON.stringify({ severity: d.severity, code: d.code, path: d.path, message: d.message }));
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (document === undefined || errors.length > 0) {
  console.error(`${path}: ${errors.length} error(s)`);
  process.exit(1);
}
console.error(`${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels`);
