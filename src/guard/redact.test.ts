/**
 * Redaction: every secret kind is found and replaced, every look-alike (a git SHA, a UUID, base64 image data, the
 * word "password" in prose, version numbers…) is left alone, JSON is walked without being mutated, and the PII
 * detectors check what they claim (Luhn, IBAN mod 97).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RULES, compileRedaction, isCardNumber, isIban, isSecretKey, redactForLog, redactString, redactValue } from './redact.ts';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const JWT = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: '1234567890', name: 'Ann' })}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;
const PEM = (type: string) => `-----BEGIN ${type}PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nq0NqX2Y4\n-----END ${type}PRIVATE KEY-----`;

/** [kind, text with one secret, the secret]. */
const SECRETS: readonly [string, string, string][] = [
  ['aws-access-key-id', 'key id AKIAIOSFODNN7EXAMPLE in use', 'AKIAIOSFODNN7EXAMPLE'],
  ['aws-access-key-id', 'temporary ASIAY34FZKBOKMUTVV7A', 'ASIAY34FZKBOKMUTVV7A'],
  ['aws-secret-access-key', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
  ['aws-secret-access-key', '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
  ['gcp-api-key', 'url?key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&x=1', 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe'],
  ['private-key', `{"type": "service_account", "private_key": "${PEM('').replace(/\n/g, '\\n')}"}`, PEM('').replace(/\n/g, '\\n')],
  ['private-key', PEM('RSA '), PEM('RSA ')],
  ['private-key', PEM('EC '), PEM('EC ')],
  ['private-key', PEM('OPENSSH '), PEM('OPENSSH ')],
  ['private-key', PEM('ENCRYPTED '), PEM('ENCRYPTED ')],
  ['private-key', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----'],
  ['private-key', 'cut off: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA'],
  ['azure-storage-key', `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${'Zm9v'.repeat(21)}Zg==;EndpointSuffix=core.windows.net`, `${'Zm9v'.repeat(21)}Zg==`],
  ['azure-storage-key', `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=${'a1B2'.repeat(10)}abc=`, `${'a1B2'.repeat(10)}abc=`],
  ['azure-sas-signature', 'https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=Yy3T8xJk%2BqP0mD4rZs9wLc1nV7bHfE6gKuA5oI2tQe%3D', 'Yy3T8xJk%2BqP0mD4rZs9wLc1nV7bHfE6gKuA5oI2tQe%3D'],
  ['github-token', 'GH_TOKEN=ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12', 'ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12'],
  ['github-token', 'oauth gho_16C7e42F292c6912E7710c838347Ae178B4a', 'gho_16C7e42F292c6912E7710c838347Ae178B4a'],
  ['github-token', 'app ghs_16C7e42F292c6912E7710c838347Ae178B4a', 'ghs_16C7e42F292c6912E7710c838347Ae178B4a'],
  ['github-token', 'user ghu_16C7e42F292c6912E7710c838347Ae178B4a', 'ghu_16C7e42F292c6912E7710c838347Ae178B4a'],
  ['github-token', `fine github_pat_11ABCDEFG0${'x1Y2z3'.repeat(12)}`, `github_pat_11ABCDEFG0${'x1Y2z3'.repeat(12)}`],
  ['gitlab-token', 'PRIVATE-TOKEN: glpat-Xy12Ab34Cd56Ef78Gh90', 'glpat-Xy12Ab34Cd56Ef78Gh90'],
  ['slack-token', 'bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'],
  ['slack-token', 'user xoxp-2345678901-3456789012-4567890123-abcdef0123456789abcdef0123456789', 'xoxp-2345678901-3456789012-4567890123-abcdef0123456789abcdef0123456789'],
  ['slack-webhook', 'post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now', 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'],
  ['stripe-key', 'STRIPE=sk_live_51H8x2aLkdj3Kd93kLw0pQ2z', 'sk_live_51H8x2aLkdj3Kd93kLw0pQ2z'],
  ['stripe-key', 'restricted rk_live_51H8x2aLkdj3Kd93kLw0pQ2z', 'rk_live_51H8x2aLkdj3Kd93kLw0pQ2z'],
  ['openai-key', 'OPENAI_API_KEY=sk-proj-Ab3dEf5hIj7lMn9pQr1tUv3xYz5Ab7dE9fG1', 'sk-proj-Ab3dEf5hIj7lMn9pQr1tUv3xYz5Ab7dE9fG1'],
  ['openai-key', 'legacy sk-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4', 'sk-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4'],
  ['anthropic-key', `x-api-key: sk-ant-api03-${'Ab1_Cd2-Ef3'.repeat(8)}AA`, `sk-ant-api03-${'Ab1_Cd2-Ef3'.repeat(8)}AA`],
  ['jwt', `token ${JWT}.`, JWT],
  ['jwt', `Authorization: Bearer ${JWT}`, JWT],
  ['jwt', `${b64url({ alg: 'none' })}.${b64url({ sub: 'x' })}.`, `${b64url({ alg: 'none' })}.${b64url({ sub: 'x' })}.`],
  ['url-password', 'postgres://admin:s3cr3t-P4ss@db.example.com:5432/app', 's3cr3t-P4ss'],
  ['url-password', 'REDIS_URL=rediss://default:hunter2@cache.example.com', 'hunter2'],
  ['generic-secret', 'password=hunter2', 'hunter2'],
  ['generic-secret', 'db.password = "c0rrect horse"', 'c0rrect horse'],
  ['generic-secret', 'client_secret: "8f2Kd93kLw0pQ2zA"', '8f2Kd93kLw0pQ2zA'],
  ['generic-secret', 'api_key: 12ab34cd56ef', '12ab34cd56ef'],
  ['generic-secret', 'curl "https://api.example.com/v1?token=Zx81kLmQ0pW"', 'Zx81kLmQ0pW'],
  ['bearer-token', 'Authorization: Bearer abc123def456ghi789', 'abc123def456ghi789'],
  ['bearer-token', '-H "authorization: token 0123456789abcdef0123"', '0123456789abcdef0123'],
];

/** Text that resembles a secret and must come back unchanged. */
const LOOK_ALIKES: readonly [string, string][] = [
  ['too-short key id', 'the placeholder AKIAEXAMPLE is not a key'],
  ['lowercase key id', 'akiaiosfodnn7example'],
  ['git SHA', 'commit 3f786850e387550fdab836ed7e6dc881de23001b (HEAD -> main)'],
  ['40-char base64 without context', 'checksum wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
  ['UUID', 'request 550e8400-e29b-41d4-a716-446655440000 done'],
  ['base64 image', 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='],
  ['password in prose', 'Enter your password to continue. Password: at least 8 characters. Forgot your password?'],
  ['password placeholder', 'password=${DB_PASSWORD} and token=<your-token> and secret=****'],
  ['sk- in words', 'the task-list, a risk-assessment-framework-for-teams, and sk-learn'],
  ['kebab slug after sk-', 'see sk-enterprise-deployment-guide-for-admins'],
  ['URL with user, no password', 'git clone https://alice@github.com/org/repo.git; ssh git@github.com:org/repo'],
  ['URL with port', 'http://localhost:8080/path@v2'],
  ['version numbers', 'node v24.1.0, semver 1.2.3, a.b.c, eyJhbGciOi.x'],
  ['three dotted parts, not a JWT header', `${Buffer.from('{"typ":"x"}').toString('base64url')}.abcdef.ghijkl`],
  ['eyJ that is not JSON', 'eyJunkdata123.abc.def'],
  ['token counts', 'max_tokens=4096 token_count=5 tokens=12 nextPageToken: abc'],
  ['public key', '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----'],
  ['ghp_ too short', 'prefix ghp_abc is not a token'],
  ['Authorization header without credential', 'Authorization: Bearer <token>'],
];

describe('secret redaction', () => {
  for (const [kind, text, secret] of SECRETS) {
    it(`redacts ${kind}: ${text.slice(0, 40).replace(/\n/g, ' ')}`, () => {
      const r = redactString(text, DEFAULT_RULES);
      assert.deepEqual(r.kinds, [kind]);
      assert.ok(!r.text.includes(secret), r.text);
      assert.ok(r.text.includes(`[REDACTED:${kind}]`), r.text);
    });
  }

  for (const [what, text] of LOOK_ALIKES) {
    it(`leaves a look-alike alone: ${what}`, () => {
      const r = redactString(text, DEFAULT_RULES);
      assert.deepEqual(r.kinds, []);
      assert.equal(r.text, text);
    });
  }

  it('keeps the parts around a secret: the URL user and host, the assignment key', () => {
    assert.equal(redactString('mysql://root:pw12@h/db', DEFAULT_RULES).text, 'mysql://root:[REDACTED:url-password]@h/db');
    assert.equal(redactString('x password=hunter2 y', DEFAULT_RULES).text, 'x password=[REDACTED:generic-secret] y');
  });

  it('lets the specific kind win where two detectors overlap', () => {
    assert.equal(redactString('token=ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12', DEFAULT_RULES).text, 'token=[REDACTED:github-token]');
    assert.deepEqual(redactString(`Authorization: Bearer ${JWT}`, DEFAULT_RULES).kinds, ['jwt']);
  });

  it('redacts several secrets in one string, in order', () => {
    const r = redactString(`a AKIAIOSFODNN7EXAMPLE b ${JWT} c`, DEFAULT_RULES);
    assert.equal(r.text, 'a [REDACTED:aws-access-key-id] b [REDACTED:jwt] c');
    assert.deepEqual(r.kinds, ['aws-access-key-id', 'jwt']);
  });
});

describe('redactValue', () => {
  it('walks nested JSON and reports JSON Pointer paths, without mutating the input', () => {
    const input = {
      content: [{ type: 'text', text: 'key AKIAIOSFODNN7EXAMPLE' }, { type: 'text', text: 'nothing here' }],
      nested: { deeper: [{ 'a/b': `postgres://u:p4ss@h/db` }], clientSecret: 'Zx81kLmQ0pW', tokenCount: 5, nextPageToken: 'c2' },
    };
    const before = structuredClone(input);
    const r = redactValue(input, DEFAULT_RULES);
    assert.deepEqual(input, before);
    assert.deepEqual(r.findings, [
      { kind: 'aws-access-key-id', path: '/content/0/text' },
      { kind: 'url-password', path: '/nested/deeper/0/a~1b' },
      { kind: 'generic-secret', path: '/nested/clientSecret' },
    ]);
    assert.equal(r.value.content[0].text, 'key [REDACTED:aws-access-key-id]');
    assert.equal(r.value.nested.clientSecret, '[REDACTED:generic-secret]');
    assert.equal(r.value.nested.nextPageToken, 'c2');
    // Untouched branches are shared, not copied.
    assert.equal(r.value.content[1], input.content[1]);
  });

  it('returns the very same object when nothing matches (fast path)', () => {
    const input = { content: [{ type: 'text', text: 'plain text, nothing secret' }], n: 1, list: [true, null, 'x'] };
    const r = redactValue(input, DEFAULT_RULES);
    assert.equal(r.value, input);
    assert.deepEqual(r.findings, []);
  });

  it('redacts values under secret-named keys whatever they look like, and only those', () => {
    for (const key of ['password', 'db_password', 'apiKey', 'X-Api-Key', 'client_secret', 'access_token', 'refreshToken', 'authorization', 'privateKey', 'token']) assert.ok(isSecretKey(key), key);
    for (const key of ['nextPageToken', 'tokenCount', 'max_tokens', 'keyId', 'passwordPolicy', 'secretName', 'tokenizer', 'author']) assert.ok(!isSecretKey(key), key);
  });

  it('redactForLog redacts arguments for logs and leaves the arguments themselves alone', () => {
    const params = { name: 'deploy', arguments: { url: 'https://u:pw99@h/x', note: 'hi' } };
    const logged = redactForLog(params);
    assert.equal(logged.arguments.url, 'https://u:[REDACTED:url-password]@h/x');
    assert.equal(params.arguments.url, 'https://u:pw99@h/x');
  });

  it('stops scanning at the budget and counts what it skipped', () => {
    const budget = { chars: 10, skipped: 0 };
    const r = redactValue({ a: 'short', b: 'key AKIAIOSFODNN7EXAMPLE' }, DEFAULT_RULES, budget);
    assert.deepEqual(r.findings, []);
    assert.equal(budget.skipped, 'key AKIAIOSFODNN7EXAMPLE'.length);
  });
});

describe('PII', () => {
  const rules = compileRedaction({ secrets: false, pii: { builtins: ['email', 'phone', 'credit-card', 'iban', 'us-ssn'] } });
  const cases: readonly [string, string, string][] = [
    ['email', 'write to ann.lee+work@mail.example.co.uk today', 'ann.lee+work@mail.example.co.uk'],
    ['phone', 'call +1 415 555 2671 now', '+1 415 555 2671'],
    ['phone', 'or (415) 555-2671', '(415) 555-2671'],
    ['phone', 'Berlin +49 30 901820', '+49 30 901820'],
    ['credit-card', 'visa 4111 1111 1111 1111 exp 12/30', '4111 1111 1111 1111'],
    ['credit-card', 'amex 378282246310005', '378282246310005'],
    ['iban', 'pay GB82 WEST 1234 5698 7654 32 please', 'GB82 WEST 1234 5698 7654 32'],
    ['iban', 'DE89370400440532013000', 'DE89370400440532013000'],
    ['us-ssn', 'ssn 123-45-6789', '123-45-6789'],
  ];
  for (const [kind, text, value] of cases) {
    it(`redacts ${kind}: ${value}`, () => {
      const r = redactString(text, rules);
      assert.deepEqual(r.kinds, [kind]);
      assert.equal(r.text, text.replace(value, `[REDACTED:${kind}]`));
    });
  }

  const alike: readonly [string, string][] = [
    ['card failing Luhn', 'order 4111 1111 1111 1112'],
    ['16 digits with no card prefix', 'id 9111111111111111'],
    ['IBAN failing mod 97', 'GB82 WEST 1234 5698 7654 33'],
    ['invalid SSN area', '000-12-3456 and 666-12-3456'],
    ['dates, versions, ids', 'on 2024-01-15 v1.2.3.4 build 20240115123456'],
    ['an email-ish handle', 'user@localhost and @mention'],
  ];
  for (const [what, text] of alike) {
    it(`leaves a look-alike alone: ${what}`, () => assert.equal(redactString(text, rules).text, text));
  }

  it('checks Luhn and IBAN', () => {
    assert.ok(isCardNumber('5555555555554444'));
    assert.ok(!isCardNumber('5555555555554445'));
    assert.ok(isIban('FR1420041010050500013M02606'));
    assert.ok(!isIban('FR1420041010050500013M02607'));
  });

  it('applies configured patterns with their replacement, and nothing when disabled', () => {
    const custom = compileRedaction({ secrets: false, pii: { patterns: [{ name: 'employee-id', pattern: 'EMP-\\d{6}' }, { name: 'case', pattern: 'case #\\d+', flags: 'i', replacement: '[case]' }] } });
    assert.equal(redactString('EMP-123456 opened CASE #42', custom).text, '[REDACTED:employee-id] opened [case]');
    assert.equal(redactString('EMP-123456', compileRedaction({ secrets: false })).text, 'EMP-123456');
  });
});
