import { defineConfig } from "vite";

// The built page is served by server.py (which also mints client sessions); nothing here
// knows the API key.
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
});
