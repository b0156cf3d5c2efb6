#!/usr/bin/env node
// KQL checker of the rulecast conformance suite.
//
// Parses and binds every KQL query that rulecast generated with Microsoft's own
// Kusto.Language (npm @kusto/language-service-next, the parser/binder behind the
// Azure Data Explorer and Log Analytics editors), against the column schemas of
// the tables the queries use (vendor/kql-tables.json) plus Sentinel's watchlist
// function _GetWatchlist. Only declared tables/functions exist, so a misspelled
// column, table or function is an error (KS142), as is a type error (KS106).
//
// On top of that, one lint of ours (RC001): a condition that compares a string
// literal with a constant ('InitiatedBy.user.upn' startswith "x") is valid KQL that
// never reads the data; it is what an unmapped dotted Sigma field turns into.
//
// It also checks that every column a rule *refers to outside the query* is a
// column of the query's result (KQL names are case-sensitive):
//   - Sentinel (YAML and ARM): entityMappings[].fieldMappings[].columnName,
//     customDetails values, {{Column}} placeholders, severity/tactics columns and dynamic
//     properties of alertDetailsOverride;
//   - Azure Monitor: criteria.allOf[].dimensions[].name.
//
// Usage:
//   node kql_check.js --modules DIR --tables kql-tables.json [--json OUT] --files FILES.json GENERATED_DIR
//     (FILES.json: {"sentinel-rule-yaml": [paths], "arm-template": [paths]}, the files the
//      targets' conformance hooks give these checkers; `rulecast targets --format json`)
//   node kql_check.js --modules DIR --tables kql-tables.json [--json OUT] --queries DIR
//     (second form: every *.kql file below DIR is one query; used for the KQL
//      that `sigma convert -t kusto` produced)
// Exit code: 0 if no query has an Error diagnostic and no column check failed.
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const args = { json: null, queries: null, modules: null, tables: null, root: null, files: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = argv[++i];
    else if (a === '--queries') args.queries = argv[++i];
    else if (a === '--files') args.files = argv[++i];
    else if (a === '--modules') args.modules = argv[++i];
    else if (a === '--tables') args.tables = argv[++i];
    else if (!args.root) args.root = a;
    else throw new Error('unexpected argument ' + a);
  }
  if (!args.modules || !args.tables || (!(args.root && args.files) && !args.queries)) {
    console.error('usage: kql_check.js --modules NODE_MODULES --tables kql-tables.json [--json OUT] (--files FILES.json GENERATED_DIR | --queries DIR)');
    process.exit(2);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const yaml = require(path.join(args.modules, 'js-yaml'));
const KUSTO_PKG = path.join(args.modules, '@kusto', 'language-service-next');
// The package is a Bridge.NET build of the C# library: bridge.min.js sets up the
// runtime, then the library registers itself on global.Kusto.Language.
require(path.join(KUSTO_PKG, 'bridge.min.js'));
require(path.join(KUSTO_PKG, 'Kusto.Language.Bridge.min.js'));
const K = global.Kusto.Language;
const kustoVersion = JSON.parse(fs.readFileSync(path.join(KUSTO_PKG, 'package.json'), 'utf8')).version;

// ---- symbols ---------------------------------------------------------------
function buildGlobals(tablesFile) {
  const spec = JSON.parse(fs.readFileSync(tablesFile, 'utf8'));
  const symbols = [];
  for (const [name, cols] of Object.entries(spec)) {
    if (name.startsWith('_')) continue; // _comment, _functions
    const schema = '(' + Object.entries(cols).map(([c, t]) => `['${c}']:${t}`).join(', ') + ')';
    symbols.push(new K.Symbols.TableSymbol.$ctor7(name, schema, null));
  }
  for (const [name, fn] of Object.entries(spec._functions || {})) {
    // $ctor16(name, parameters, body): other overloads bind a wrong signature.
    symbols.push(new K.Symbols.FunctionSymbol.$ctor16(name, fn.params, fn.body));
  }
  const db = new K.Symbols.DatabaseSymbol.ctor('db', symbols);
  return K.GlobalState.Default.WithDatabase(db);
}
const globals = buildGlobals(args.tables);

// ---- helpers ---------------------------------------------------------------
function walkFiles(dir, pred, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walkFiles(p, pred, out);
    else if (pred(entry.name)) out.push(p);
  }
  return out;
}

function lineCol(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

// Every {type, properties} object anywhere in an ARM template (covers
// resources[], nested deployments and copy loops alike).
function armResources(node, out = []) {
  if (Array.isArray(node)) node.forEach((n) => armResources(n, out));
  else if (node && typeof node === 'object') {
    if (typeof node.type === 'string' && node.properties && typeof node.properties === 'object') out.push(node);
    Object.values(node).forEach((v) => armResources(v, out));
  }
  return out;
}

// Columns a Sentinel rule (YAML template or ARM properties) refers to.
function sentinelColumnRefs(rule) {
  const refs = [];
  (rule.entityMappings || []).forEach((em, i) =>
    (em.fieldMappings || []).forEach((fm, j) =>
      refs.push({ where: `entityMappings[${i}].fieldMappings[${j}].columnName`, column: fm.columnName })));
  Object.entries(rule.customDetails || {}).forEach(([k, v]) => refs.push({ where: `customDetails.${k}`, column: v }));
  const ado = rule.alertDetailsOverride || {};
  for (const key of ['alertDisplayNameFormat', 'alertDescriptionFormat']) {
    const re = /\{\{\s*([^}\s]+)\s*\}\}/g;
    let m;
    while ((m = re.exec(ado[key] || '')) !== null) refs.push({ where: `alertDetailsOverride.${key}`, column: m[1] });
  }
  for (const key of ['alertSeverityColumnName', 'alertTacticsColumnName']) {
    if (ado[key]) refs.push({ where: `alertDetailsOverride.${key}`, column: ado[key] });
  }
  (ado.alertDynamicProperties || []).forEach((p, i) =>
    refs.push({ where: `alertDetailsOverride.alertDynamicProperties[${i}].value`, column: p.value }));
  return refs;
}

// ---- checking --------------------------------------------------------------
const summary = {
  tool: 'Kusto.Language (@kusto/language-service-next)',
  version: kustoVersion,
  files: 0,
  queries: 0,
  query_failures: 0,
  warnings: 0,
  column_checks: 0, // number of rules whose column references were checked
  column_failures: 0,
  failures: [], // {file, kind: 'kql'|'columns', message}
};

function fail(file, kind, message) {
  summary.failures.push({ file, kind, message });
  console.log(`FAIL [${kind === 'kql' ? 'kql' : 'kql-columns'}] ${file}: ${message}`);
}

// Returns the result column names, or null when the query has errors.
function checkQuery(file, where, query) {
  summary.queries++;
  if (typeof query !== 'string' || query.trim() === '') {
    summary.query_failures++;
    fail(file, 'kql', `${where}: query is missing or empty`);
    return null;
  }
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const diags = code.GetDiagnostics();
  let errors = 0;
  for (let i = 0; i < diags.Count; i++) {
    const d = diags.getItem(i);
    const pos = lineCol(query, d.Start);
    const srcLine = query.split('\n')[pos.line - 1] || '';
    const text = `${where} line ${pos.line} col ${pos.col}: ${d.Severity} ${d.Code} ${d.Message}\n      | ${srcLine}\n      | ${' '.repeat(pos.col - 1)}^`;
    if (d.Severity === 'Error') {
      errors++;
      fail(file, 'kql', text);
    } else {
      // Warnings/suggestions (e.g. performance hints) are reported, not fatal:
      // they flag style, not queries that Log Analytics would reject.
      summary.warnings++;
      console.log(`WARN [kql] ${file}: ${text}`);
    }
  }
  // Our own lint on top of the binder: a condition whose left operand is a string
  // literal and whose value is constant, e.g. 'InitiatedBy.user.upn' startswith "x".
  // That is valid KQL, but it never looks at the data: it is what the Kusto Sigma
  // backend emits when a dotted field reaches it unmapped (it quotes the name).
  K.Syntax.SyntaxElement.WalkNodes(code.Syntax, function (n) {
    const left = n.Left;
    if (!left || !n.IsConstant || !n.ResultType || n.ResultType.Name !== 'bool') return;
    if (!/LiteralExpression$/.test(left.constructor.$$name || '') || !left.ResultType || left.ResultType.Name !== 'string') return;
    const pos = lineCol(query, n.TextStart);
    errors++;
    fail(file, 'kql', `${where} line ${pos.line} col ${pos.col}: Error RC001 the condition \`${query.substr(n.TextStart, n.Width).trim()}\` ` +
      `compares the string literal ${left.ToString().trim()} with a constant, so it never looks at the data ` +
      '(a field name quoted as a string, as the Kusto Sigma backend does with an unmapped dotted field?)');
  }, null);
  if (errors) {
    summary.query_failures++;
    return null;
  }
  const rt = code.ResultType;
  if (!rt || !rt.Columns) {
    summary.query_failures++;
    fail(file, 'kql', `${where}: query does not produce a table (result type ${rt && rt.Name})`);
    return null;
  }
  const cols = [];
  for (let i = 0; i < rt.Columns.Count; i++) cols.push(rt.Columns.getItem(i).Name);
  return cols;
}

function checkColumns(file, where, columns, refs) {
  if (columns === null || refs.length === 0) return; // query already failed / nothing to check
  summary.column_checks++;
  let bad = 0;
  for (const ref of refs) {
    if (typeof ref.column !== 'string' || !columns.includes(ref.column)) {
      bad++;
      const near = columns.find((c) => typeof ref.column === 'string' && c.toLowerCase() === ref.column.toLowerCase());
      fail(file, 'columns', `${where} ${ref.where} names column '${ref.column}', which the query does not output` +
        (near ? ` (it outputs '${near}': KQL names are case-sensitive)` : '') +
        `; result columns: ${columns.join(', ')}`);
    }
  }
  if (bad) summary.column_failures++;
}

function rel(p) {
  return path.relative(args.root || args.queries, p) || p;
}

function loadOrFail(file, loader) {
  summary.files++;
  try {
    return loader(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    summary.query_failures++;
    fail(rel(file), 'kql', `cannot parse file: ${e.message.split('\n')[0]}`);
    return null;
  }
}

if (args.queries) {
  for (const file of walkFiles(args.queries, (n) => n.endsWith('.kql'))) {
    const q = loadOrFail(file, (t) => t);
    if (q !== null) checkQuery(rel(file), 'query', q);
  }
} else {
  const files = JSON.parse(fs.readFileSync(args.files, 'utf8'));
  // Azure-Sentinel analytics-rule templates (YAML)
  for (const file of files['sentinel-rule-yaml'] || []) {
    const doc = loadOrFail(file, (t) => yaml.load(t));
    if (!doc) continue;
    const cols = checkQuery(rel(file), 'query', doc.query);
    checkColumns(rel(file), 'rule', cols, sentinelColumnRefs(doc));
  }
  // ARM templates: the query of every Sentinel alert rule and Azure Monitor log search alert
  for (const file of files['arm-template'] || []) {
    const doc = loadOrFail(file, (t) => JSON.parse(t));
    if (!doc) continue;
    armResources(doc).filter((r) => /alertRules$/i.test(r.type)).forEach((r) => {
      const where = `resource '${r.name}'`;
      const cols = checkQuery(rel(file), `${where} properties.query`, r.properties.query);
      checkColumns(rel(file), where, cols, sentinelColumnRefs(r.properties));
    });
    armResources(doc).filter((r) => /scheduledQueryRules$/i.test(r.type)).forEach((r) => {
      const allOf = ((r.properties.criteria || {}).allOf) || [];
      if (allOf.length === 0) {
        summary.queries++;
        summary.query_failures++;
        fail(rel(file), 'kql', `resource '${r.name}' has no properties.criteria.allOf[].query`);
      }
      allOf.forEach((c, i) => {
        const where = `resource '${r.name}' criteria.allOf[${i}]`;
        const cols = checkQuery(rel(file), `${where}.query`, c.query);
        const refs = (c.dimensions || []).map((d, j) => ({ where: `dimensions[${j}].name`, column: d.name }));
        checkColumns(rel(file), where, cols, refs);
      });
    });
  }
}

console.log(`kql: ${summary.queries} queries in ${summary.files} files, ${summary.query_failures} failing, ` +
  `${summary.warnings} warnings; ${summary.column_checks} column-reference checks, ${summary.column_failures} failing`);
if (args.json) fs.writeFileSync(args.json, JSON.stringify(summary, null, 1));
process.exit(summary.query_failures || summary.column_failures ? 1 : 0);
