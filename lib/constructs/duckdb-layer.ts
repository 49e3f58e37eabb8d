import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { FUNCTION_RUNTIME } from './function-runtime';

/** The Lambda platforms DuckDB publishes a glibc Node binding for. */
export const DUCKDB_PLATFORMS = ['linux-x64', 'linux-arm64'] as const;
export type DuckDbPlatform = (typeof DUCKDB_PLATFORMS)[number];

const ARCHITECTURES: Record<DuckDbPlatform, lambda.Architecture> = {
  'linux-x64': lambda.Architecture.X86_64,
  'linux-arm64': lambda.Architecture.ARM_64,
};

/** The package that loads the native binding: the bundles leave it to the layer (esbuild cannot bundle a .node file). */
export const DUCKDB_BINDINGS_PACKAGE = '@duckdb/node-bindings';

/** What the layer holds under nodejs/node_modules: the loader, the platform's binary and the loader's one dependency. */
const layerPackages = (platform: DuckDbPlatform): string[] => [
  DUCKDB_BINDINGS_PACKAGE,
  `${DUCKDB_BINDINGS_PACKAGE}-${platform}`,
  'detect-libc',
];

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface DuckDbLayerProps {
  /**
   * The platform of the binding the layer carries; the functions that use the layer must run on it
   * (`architecture`).
   * @default 'linux-x64', the binding `npm ci` installs on the project's Linux x64 machines and CI
   */
  readonly platform?: DuckDbPlatform;
  /**
   * Directory from which the binding packages are resolved, as Node would from a file in it.
   * @default the repository root (its node_modules)
   */
  readonly resolveFrom?: string;
}

/** A package found from `fromDir`: its directory and version, or undefined when it is not installed. */
function findPackage(name: string, fromDir: string): { dir: string; version: string } | undefined {
  let manifest: string;
  try {
    manifest = createRequire(join(fromDir, 'resolve.js')).resolve(`${name}/package.json`);
  } catch {
    return undefined;
  }
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return { dir: dirname(manifest), version };
}

/** The installed loader package; throws saying to run npm ci when it is missing. */
function requireBindings(resolveFrom: string): { dir: string; version: string } {
  const bindings = findPackage(DUCKDB_BINDINGS_PACKAGE, resolveFrom);
  if (!bindings) {
    throw new Error(
      `DuckDbLayer: ${DUCKDB_BINDINGS_PACKAGE} is not installed under ${resolveFrom}; run npm ci.`,
    );
  }
  return bindings;
}

/**
 * Copies the installed binding packages into `outputDir/nodejs/node_modules` (the layout Lambda puts on
 * NODE_PATH); throws naming the missing package and how to install it.
 * @returns the packages copied, as `name@version`
 */
export function stageDuckDbLayer(outputDir: string, platform: DuckDbPlatform, resolveFrom: string): string[] {
  const bindings = requireBindings(resolveFrom);
  const staged: string[] = [];
  for (const name of layerPackages(platform)) {
    // The platform package and detect-libc are dependencies of the loader: resolve them as it does.
    const found = name === DUCKDB_BINDINGS_PACKAGE ? bindings : findPackage(name, bindings.dir);
    if (!found) {
      const [os, cpu] = platform.split('-');
      throw new Error(
        `DuckDbLayer: ${name} is not installed (npm installs only the binding of the machine it runs on). ` +
          `Synthesize on Linux ${cpu}, or add it with: npm install --no-save --os=${os} --cpu=${cpu} --libc=glibc ${name}@${bindings.version}`,
      );
    }
    if (name.startsWith(DUCKDB_BINDINGS_PACKAGE) && found.version !== bindings.version) {
      throw new Error(
        `DuckDbLayer: ${name}@${found.version} does not match ${DUCKDB_BINDINGS_PACKAGE}@${bindings.version}; run npm ci.`,
      );
    }
    cpSync(found.dir, join(outputDir, 'nodejs', 'node_modules', name), {
      recursive: true,
      dereference: true,
    });
    staged.push(`${name}@${found.version}`);
  }
  return staged;
}

/**
 * A Lambda layer with DuckDB's native Node binding, built at synth time from the installed packages: no
 * Docker, no download. The functions that run DuckDB take `layer`, `architecture` and `externalModules`
 * (cartflowFunction's `engine` prop does it); `@duckdb/node-api` itself is plain JavaScript and is bundled.
 */
export class DuckDbLayer extends Construct {
  readonly layer: lambda.LayerVersion;
  /** The architecture the binding was built for; a function on another one cannot load it. */
  readonly architecture: lambda.Architecture;
  /** esbuild externals: the loader and binary come from the layer (/opt/nodejs/node_modules, on NODE_PATH). */
  readonly externalModules: string[];
  /** Version of the binding in the layer, e.g. `1.5.6-r.1`. */
  readonly version: string;

  constructor(scope: Construct, id: string, props: DuckDbLayerProps = {}) {
    super(scope, id);
    const platform = props.platform ?? 'linux-x64';
    if (!(DUCKDB_PLATFORMS as readonly string[]).includes(platform)) {
      throw new Error(`DuckDbLayer: platform "${platform}" must be one of ${DUCKDB_PLATFORMS.join(', ')}.`);
    }
    const resolveFrom = props.resolveFrom ?? REPO_ROOT;
    const bindings = requireBindings(resolveFrom);
    const api = findPackage('@duckdb/node-api', resolveFrom);
    // The bundled API and the layer's binding must come from the same release.
    if (api && api.version !== bindings.version) {
      throw new Error(
        `DuckDbLayer: @duckdb/node-api@${api.version} and ${DUCKDB_BINDINGS_PACKAGE}@${bindings.version} differ; run npm ci.`,
      );
    }
    this.version = bindings.version;
    this.architecture = ARCHITECTURES[platform];
    this.externalModules = [DUCKDB_BINDINGS_PACKAGE];

    // npm's integrity check pins the bytes of a version, so the versions identify the layer's content.
    const assetHash = createHash('sha256')
      .update(['duckdb-layer/v1', platform, ...layerPackages(platform), bindings.version].join('\n'))
      .digest('hex');
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: `DuckDB ${bindings.version} Node binding (${platform})`,
      compatibleRuntimes: [FUNCTION_RUNTIME],
      compatibleArchitectures: [this.architecture],
      code: lambda.Code.fromAsset(bindings.dir, {
        assetHash,
        bundling: {
          // Never pulled: local bundling below either stages the layer or throws.
          image: DockerImage.fromRegistry('scratch'),
          local: {
            tryBundle: (outputDir) => {
              stageDuckDbLayer(outputDir, platform, resolveFrom);
              return true;
            },
          },
        },
      }),
    });
  }
}
