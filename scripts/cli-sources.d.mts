export declare const CLI_SOURCE_DIRS: string[];
export declare const CLI_SOURCE_FILES: string[];
export declare function newestSourceMtime(root: string): number;
export declare function cliBundleIsCurrent(root: string, outdir?: string): boolean;
