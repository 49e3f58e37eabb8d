/**
 * The code's version, as package.json says: what EnsureWarehouse records with each schema change it applies
 * (ops.schema_change), so a change traces back to the release that declared it. The bundler inlines it.
 */
import packageJson from '../../package.json' with { type: 'json' };

export const CODE_VERSION: string = packageJson.version;
