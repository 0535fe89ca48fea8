// esbuild bundles the stylesheet that main.tsx imports into its own hashed .css file.
declare module '*.css';
