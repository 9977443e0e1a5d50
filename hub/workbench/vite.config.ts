// The workbench is served by every worker at /app/ (hub/http/workbench.py) from dist/,
// which `make install` builds; nothing built is committed.
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/app/",
  plugins: [vue()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  test: { environment: "happy-dom" },
});
