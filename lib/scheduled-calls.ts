/**
 * What a synthesized stack runs on a timer, and which of it can reach the warehouse, read off the
 * CloudFormation template itself: the cost estimate (lib/cost-estimate.ts) counts what the stack really
 * schedules, and a function that gains a path to Redshift shows up here without anyone declaring it.
 *
 * A principal can reach Redshift when one of its policies allows a Redshift action (Data API, Serverless,
 * provisioned), or lets it assume a role, or invoke a function, that can.
 */

/** One resource of a template's JSON (`Template.toJSON().Resources`). */
export interface CfnResource {
  Type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, read field by field
  Properties?: Record<string, any>;
}

export type CfnResources = Readonly<Record<string, CfnResource>>;

/** An EventBridge schedule's target and what it can do. */
export interface ScheduledCall {
  /** The rule's description (or its logical id). */
  rule: string;
  /** Invocations a day. */
  perDay: number;
  /** `function` or `stateMachine`, and its logical id. */
  kind: 'function' | 'stateMachine';
  target: string;
  /** A function's handler entry (its description is `cartflow <env>: <entry>`); undefined otherwise. */
  entry?: string;
  /** A function's memory (MB) and architecture, as deployed. */
  memoryMb?: number;
  architecture?: 'x86_64' | 'arm64';
  /** The Redshift actions the target may perform, directly or through roles and functions; empty: none. */
  warehouseActions: string[];
}

/** IAM actions that reach Redshift: `redshift:`, `redshift-data:`, `redshift-serverless:` (and `*`). */
const WAREHOUSE_ACTION = /^(\*|redshift(-data|-serverless)?:.*)$/i;

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** The logical ids a CloudFormation value refers to (Ref and Fn::GetAtt, anywhere inside it). */
function referencedIds(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (typeof value !== 'object' || value === null) return [];
  const o = value as Record<string, unknown>;
  if (typeof o.Ref === 'string') return [o.Ref];
  const getAtt = o['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return [getAtt[0]];
  return Object.values(o).flatMap(referencedIds);
}

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: unknown;
}

/** The Allow statements of a role: its inline policies and every AWS::IAM::Policy attached to it. */
function statementsOf(resources: CfnResources, roleId: string): Statement[] {
  const documents = [
    ...asList(resources[roleId]?.Properties?.Policies).map(
      (p: { PolicyDocument: unknown }) => p.PolicyDocument,
    ),
    ...Object.values(resources)
      .filter(
        (r) =>
          (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
          referencedIds(r.Properties?.Roles).includes(roleId),
      )
      .map((r) => r.Properties?.PolicyDocument),
  ];
  return documents
    .flatMap((d) => asList<Statement>((d as { Statement?: Statement[] } | undefined)?.Statement))
    .filter((s) => s.Effect === 'Allow');
}

/** The role a function or state machine runs as. */
function roleOf(resources: CfnResources, id: string): string | undefined {
  const props = resources[id]?.Properties;
  return referencedIds(props?.Role ?? props?.RoleArn)[0];
}

/**
 * The Redshift actions `principalId` (a role, function or state machine) may perform: its own, those of the
 * roles it may assume and those of the functions it may invoke.
 */
export function warehouseActionsOf(resources: CfnResources, principalId: string): string[] {
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !resources[id]) return;
    seen.add(id);
    const type = resources[id].Type;
    if (type !== 'AWS::IAM::Role') {
      const role = roleOf(resources, id);
      if (role) visit(role);
      return;
    }
    for (const statement of statementsOf(resources, id)) {
      for (const action of asList(statement.Action)) {
        if (WAREHOUSE_ACTION.test(action)) found.add(action);
        if (/^(sts:AssumeRole|lambda:InvokeFunction|\*)$/i.test(action)) {
          for (const target of referencedIds(statement.Resource)) {
            const t = resources[target]?.Type;
            if (t === 'AWS::IAM::Role' || t === 'AWS::Lambda::Function') visit(target);
          }
        }
      }
    }
  };
  visit(principalId);
  return [...found].sort();
}

const PER_DAY_OF_UNIT: Record<string, number> = { minute: 24 * 60, hour: 24, day: 1 };

/** How many values of a cron field fire (`*`, lists, ranges, steps), out of `size` values starting at `first`. */
function cronCount(field: string, first: number, size: number, names: readonly string[] = []): number {
  const value = (text: string) => {
    const named = names.indexOf(text.toUpperCase());
    return named >= 0 ? named + first : Number(text);
  };
  const hits = new Set<number>();
  for (const part of field.split(',')) {
    const [range, step] = part.split('/');
    const [lo, hi] =
      range === '*' || range === '?'
        ? [first, first + size - 1]
        : range.includes('-')
          ? range.split('-').map(value)
          : [value(range), step ? first + size - 1 : value(range)];
    for (let v = lo; v <= hi; v += Number(step ?? 1)) hits.add(v);
  }
  return hits.size;
}

const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * Invocations a day of an EventBridge schedule expression: `rate(N unit)` or
 * `cron(minutes hours day-of-month month day-of-week year)` (day fields averaged over a week or a month).
 */
export function invocationsPerDay(expression: string): number {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (rate) return PER_DAY_OF_UNIT[rate[2]] / Number(rate[1]);
  const cron = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/.exec(expression);
  if (!cron)
    throw new Error(`schedule expression ${JSON.stringify(expression)}: expected rate(...) or cron(...)`);
  const [, minutes, hours, dom, , dow] = cron;
  const perFiringDay = cronCount(minutes, 0, 60) * cronCount(hours, 0, 24);
  const dayShare =
    dow !== '?' && dow !== '*'
      ? cronCount(dow, 1, 7, DAYS) / 7
      : dom !== '?' && dom !== '*'
        ? cronCount(dom.replace(/[LW]/g, ''), 1, 31) / 30.4
        : 1;
  return perFiringDay * dayShare;
}

/**
 * What a target id runs: an alias (which the nightly schedule starts, so that a deploy can be compared
 * before it is promoted) runs a version of a state machine, whose role is the state machine's.
 */
function stateMachineBehind(resources: CfnResources, id: string): string {
  const resource = resources[id];
  if (resource?.Type === 'AWS::StepFunctions::StateMachineAlias') {
    const routes = asList<{ StateMachineVersionArn: unknown }>(resource.Properties?.RoutingConfiguration);
    return routes.length > 0
      ? stateMachineBehind(resources, referencedIds(routes[0].StateMachineVersionArn)[0])
      : id;
  }
  if (resource?.Type === 'AWS::StepFunctions::StateMachineVersion') {
    return referencedIds(resource.Properties?.StateMachineArn)[0] ?? id;
  }
  return id;
}

/** Every target of every EventBridge schedule in the template, with what it can do to the warehouse. */
export function scheduledCallsOf(resources: CfnResources): ScheduledCall[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Events::Rule' && typeof r.Properties?.ScheduleExpression === 'string')
    .flatMap(([ruleId, rule]) => {
      const perDay = invocationsPerDay(rule.Properties!.ScheduleExpression as string);
      return asList<{ Arn: unknown }>(rule.Properties!.Targets).flatMap((t): ScheduledCall[] => {
        const target = stateMachineBehind(resources, referencedIds(t.Arn)[0]);
        const resource = resources[target];
        if (!resource) return [];
        const props = resource.Properties ?? {};
        const isFunction = resource.Type === 'AWS::Lambda::Function';
        return [
          {
            rule: String(rule.Properties!.Description ?? ruleId),
            perDay,
            kind: isFunction ? 'function' : 'stateMachine',
            target,
            entry: isFunction ? /: (\S+)$/.exec(String(props.Description ?? ''))?.[1] : undefined,
            memoryMb: isFunction ? Number(props.MemorySize ?? 128) : undefined,
            architecture: isFunction
              ? ((asList<string>(props.Architectures)[0] as ScheduledCall['architecture']) ?? 'x86_64')
              : undefined,
            warehouseActions: warehouseActionsOf(resources, target),
          },
        ];
      });
    });
}
