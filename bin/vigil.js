#!/usr/bin/env node
// The `vigil` command. The TypeScript sources are compiled to dist/ by `npm run build`
// (run automatically by `npm start`, `npm test` and the Docker build).
import("../dist/cli.js").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/cli.js")) {
    console.error("Vigil is not built yet: run `npm run build` (or `npm start`) first.");
    process.exit(1);
  }
  throw error;
});
