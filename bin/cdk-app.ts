import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { CartflowStack } from '../lib/cartflow-stack';
import { loadConfig } from '../lib/config';

// `cdk synth|deploy -c env=dev|staging|prod`; a config error stops synth naming the field at fault.
const app = new App();
const envName = (app.node.tryGetContext('env') as string | undefined) ?? 'dev';
new CartflowStack(app, `Cartflow-${envName}`, { config: loadConfig(envName) });
// cdk-nag v3 packs are policy-validation plugins: any unacknowledged AwsSolutions or Serverless finding
// fails synth. Each acknowledgement sits on its resource with its reason (lib/nag.ts).
Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app, { verbose: true }),
  new ServerlessChecks(app, { verbose: true }),
);
