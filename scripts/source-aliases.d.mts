export function sourceAliases(packagesDir?: string): Record<string, string>;
