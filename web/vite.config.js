// Vite build of weir's browser UI. The server serves the output at /ui/ (src/api/ui_routes.h);
// the normal build (CMake, web/CMakeLists.txt) sets WEIR_UI_OUT to build/web/dist.
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

export default defineConfig({
  base: "/ui/",
  plugins: [preact({ prefreshEnabled: false, devToolsEnabled: false })],
  build: {
    outDir: process.env.WEIR_UI_OUT || "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2020",
  },
  server: {
    // `npm run dev` against a local `weir server` (make run): API calls go to it.
    proxy: {
      "/api": process.env.WEIR_SERVER || "http://127.0.0.1:8080",
    },
  },
});
