/** Stylesheets imported for their side effect: esbuild bundles them into explorer.css. */
declare module "*.css";
