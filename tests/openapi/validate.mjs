// Validates an OpenAPI document with @seriousme/openapi-schema-validator (pinned in
// package-lock.json, installed by `make openapi-test-deps`): node validate.mjs FILE.
// Prints {"valid":..,"version":..,"errors":..} and exits 0 when valid, 1 when not.
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
const validator = new Validator();
const res = await validator.validate(file);
console.log(JSON.stringify({ valid: res.valid, version: validator.version, errors: res.errors }));
process.exit(res.valid ? 0 : 1);
