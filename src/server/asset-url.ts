import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * Builds the `/assets/…` URL of a stored file path, for a server that serves `assetsDir` under
 * `/assets/`. The pipeline stores paths as it wrote them: absolute, or relative to the working directory
 * it ran in (`assets/<video>/thumb.png` for the default `./assets`); paths relative to the assets dir
 * (`<video>/thumb.png`) are accepted too. A relative path is read against the working directory first
 * when that lands inside the assets dir, else against the assets dir. Paths outside the assets dir get
 * no URL (null): the server never points at files it does not serve.
 */
export function assetUrlBuilder(
  assetsDir: string | undefined,
  cwd: string = process.cwd(),
): (path: string | null | undefined) => string | null {
  if (assetsDir === undefined) return () => null;
  const root = resolve(cwd, assetsDir);
  const inside = (absolute: string): string | undefined => {
    const rel = relative(root, absolute);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
    return rel;
  };
  return (path) => {
    if (!path) return null;
    const rel = isAbsolute(path) ? inside(path) : (inside(resolve(cwd, path)) ?? inside(resolve(root, path)));
    if (rel === undefined) return null;
    return `/assets/${rel.split(sep).map(encodeURIComponent).join('/')}`;
  };
}
