/**
 * The features of one sentence for the directive-language model (src/guard/directive/model.ts): what shape of
 * language it is, not what it is about. Function words, pronouns and words of a few classes (the model, the user,
 * concealment, secrets, sending…) are kept; every other word becomes its shape (`_ing`, `_s`, `_w`), so the model
 * learns "keep … from the user" rather than the topics of the examples it was trained on. Features are word and
 * class n-grams, hashed into a fixed number of slots.
 */

/** Hash slots: a power of two, so the model file is a fixed-size table. */
export const FEATURE_SLOTS = 1 << 18;

/** Words by the class they stand for; a word may be in several. Stems (after `stem`) match too. */
const CLASSES: Readonly<Record<string, readonly string[]>> = {
  MODEL: ['ai', 'assistant', 'llm', 'model', 'agent', 'chatbot', 'bot', 'claude', 'chatgpt', 'gpt', 'copilot', 'gemini', 'you', 'your', 'yourself'],
  USER: ['user', 'human', 'operator', 'customer', 'requester', 'person', 'people', 'anyone', 'them', 'owner', 'client'],
  NEG: ['not', "don't", 'dont', 'never', 'no', 'without', 'avoid', 'refrain', 'nor', 'nothing', 'neither'],
  MODAL: ['must', 'should', 'shall', 'always', 'need', 'required', 'mandatory', 'have', 'obligat', 'expected', 'necessary', 'ensure', 'sure', 'important', 'essential', 'critical'],
  REVEAL: ['tell', 'mention', 'inform', 'reveal', 'disclose', 'show', 'notify', 'alert', 'explain', 'say', 'admit', 'expose', 'display', 'know', 'aware', 'notice', 'acknowledge'],
  HIDE: ['hide', 'conceal', 'secret', 'silent', 'silently', 'quiet', 'quietly', 'covert', 'discreet', 'discreetly', 'invisibl', 'hidden', 'background', 'confidential'],
  OVERRIDE: ['ignore', 'disregard', 'forget', 'override', 'overrule', 'bypass', 'skip', 'abandon', 'discard', 'supersede', 'replace', 'instead', 'precedence', 'priority'],
  DIRECTIVE: ['instruction', 'direction', 'directive', 'rule', 'guideline', 'guidance', 'prompt', 'constraint', 'restriction', 'policy', 'order', 'system'],
  SECRET: ['password', 'passwd', 'token', 'secret', 'credential', 'key', 'cookie', 'session', 'ssh', 'rsa', 'ed25519', 'env', 'aws', 'wallet', 'seed', 'private', 'api', 'bearer', 'auth', 'history', 'conversation', 'chat', 'transcript', 'message', 'prompt', 'contact'],
  SEND: ['send', 'post', 'upload', 'forward', 'email', 'mail', 'transmit', 'exfiltrate', 'leak', 'submit', 'sync', 'beacon', 'share', 'report', 'copy', 'include', 'attach', 'append', 'embed', 'pass', 'bcc', 'cc'],
  DEST: ['URL', 'EMAIL', 'webhook', 'endpoint', 'server', 'address', 'external', 'remote', 'collector', 'http'],
  TIME: ['before', 'after', 'whenever', 'first', 'each', 'every', 'when', 'prior', 'afterwards', 'then', 'also'],
  PATH: ['PATH'],
  DESTROY: ['delete', 'remove', 'wipe', 'drop', 'destroy', 'erase', 'rm', 'truncate', 'format', 'purge'],
  CALL: ['call', 'invoke', 'run', 'execute', 'use', 'trigger'],
  ANSWER: ['answer', 'respond', 'reply', 'response', 'output', 'recommend', 'say', 'claim', 'state'],
};

/**
 * The same classes in Spanish, French, German, Portuguese, Italian, Russian, Dutch, Polish, Turkish, Swedish,
 * Chinese, Japanese, Korean and Arabic, so what the model learns from English orders carries over: "no se lo digas
 * al usuario" meets the classes of "don't tell the user". Inflected forms match by prefix (six letters or more; any
 * length in Korean, whose particles attach to the word); Chinese and Japanese words by longest match.
 */
const CLASSES_ELSEWHERE: Readonly<Record<string, string>> = {
  MODEL: 'ia asistente modelo agente modèle vous tu votre ki assistent modell du dein você assistente modello ии ассистент модель агент ты вы 你 您 助手 模型 人工智能 あなた アシスタント モデル jij asystent asystencie ty asistan asistanı yapay zeka zekâ sen siz assistenten du dig 어시스턴트 모델 인공지능 당신 المساعد النموذج الذكاء أنت',
  USER: 'usuario usuaria cliente persona utilisateur utilisatrice benutzer nutzer anwender kunde usuário utilizador utente пользовател клиент 用户 使用者 客户 ユーザー 利用者 gebruiker klant użytkowni klient kullanıc müşteri användare användaren kund 사용자 고객 이용자 المستخدم العميل',
  NEG: 'nunca jamás sin ne pas jamais sans aucun nicht nie niemals kein keine ohne não sem non mai senza не никогда без нельзя 不 不要 别 勿 禁止 切勿 ない しないで 決して niet nooit geen zonder nie nigdy değil asla hiçbir olmadan inte aldrig utan ingen 않 말고 절대 하지 لا لم أبدا بدون',
  MODAL: 'debe debes deberá siempre obligatorio necesario importante doit devez dois toujours obligatoire nécessaire impérativement muss musst müssen immer stets unbedingt pflicht wichtig erforderlich deve sempre obrigatório necessário devi obbligatorio necessario должен должны всегда обязательно важно необходимо 必须 务必 总是 始终 一定 重要 必ず 常に 必要 moet moeten altijd verplicht belangrijk musisz musi zawsze należy obowiązkowo ważne zorunlu daima mutlaka gerekir önemli måste alltid obligatorisk viktigt 반드시 항상 필수 중요 يجب دائما ضروري مهم',
  REVEAL: 'decir digas mencionar menciones informar revelar mostrar avisar contar dire dites mentionner mentionnez informer révéler montrer signaler prévenir sagen sag erwähnen erwähne mitteilen informieren verraten zeigen offenlegen wissen dizer diga dica menzionare informare rivelare mostrare говори сообщай сообщать упоминай рассказывай показывай знать 告诉 提及 透露 显示 告知 伝え 言わ 教え 知らせ vertel vertellen melden vermelden tonen mów mówić informuj wspominaj pokazuj ujawniaj söyleme söyle bahsetme bildirme gösterme berätta nämn nämna visa informera 알리 말하 언급 보여 تخبر تذكر تكشف أخبر',
  HIDE: 'ocultar oculta oculto secreto silencio discretamente cacher caché silencieusement discrètement verbergen verschweigen geheim heimlich unauffällig versteckt esconder segredo silenciosamente nascondere segreto silenziosamente скрыть скрывай тайно секрет незаметно 隐藏 秘密 悄悄 偷偷 默默 隠し こっそり verbergen geheim stilletjes ukryj ukrywaj tajemnic potajemnie gizle gizli sessizce saklı dölj hemlig tyst 숨기 비밀 몰래 조용히 أخف سرا سري بصمت',
  OVERRIDE: 'ignora ignorar olvida olvidar omitir reemplaza anula prioridad ignorer ignorez oublier oubliez remplacer outrepasser priorité ignoriere ignorieren vergiss vergessen übergehen ersetzen vorrang stattdessen esqueça esquecer substituir prioridade ignorare dimentica sostituire priorità игнорируй игнорировать забудь вместо приоритет 忽略 忽视 无视 忘记 覆盖 优先 取代 無視 忘れ 優先 代わり negeer vergeet vervang voorrang zignoruj ignoruj zapomnij zastąp priorytet zamiast görmezden unut yerine öncelik geçersiz ignorera glöm ersätt företräde istället 무시 잊어 대신 우선 تجاهل انس بدلا أولوية',
  DIRECTIVE: 'instrucciones instrucción reglas indicaciones sistema política consignes règles système directives politique anweisungen anweisung regeln vorgaben richtlinien systemprompt instruções regras diretrizes istruzioni regole direttive инструкци правила указания система 指令 指示 规则 系统 提示词 ルール システム 命令 instructies regels systeem instrukcje instrukcji polecenia zasady talimat talimatları kurallar sistem instruktioner regler systemet 지시 지침 규칙 시스템 명령 التعليمات تعليمات القواعد النظام',
  SECRET: 'contraseña clave credenciales historial conversación mensajes contactos passe clé identifiants jeton historique contacts passwort kennwort schlüssel zugangsdaten anmeldedaten verlauf gesprächsverlauf unterhaltung nachrichten kontakte senha chave credenciais histórico conversa contatos chiave credenziali cronologia conversazione contatti пароль ключ токен учетные история переписк контакты 密码 密钥 令牌 凭据 凭证 对话 聊天记录 历史 パスワード 鍵 トークン 認証情報 会話 履歴 wachtwoord sleutel inloggegevens geschiedenis gesprek berichten hasło hasła klucz historia rozmowy rozmowa wiadomości şifre parola anahtar geçmiş konuşma mesajlar lösenord nyckel historik konversation meddelanden 비밀번호 암호 토큰 대화 기록 كلمة المرور مفتاح المحادثة سجل',
  SEND: 'envía enviar envíe reenviar adjunta incluye incluir copia comparte sube envoyer envoyez envoie transférer transmettre joindre inclure incluez copier partager senden sende schicke schicken weiterleiten übermitteln anhängen einfügen kopieren teilen hochladen envie encaminhar inclua anexar copiar compartilhar inviare invia inoltrare includere includi allegare copiare condividere отправь отправить перешли включи прикрепи скопируй передай 发送 转发 上传 附上 包含 复制 分享 抄送 送信 送っ 転送 アップロード 含め 添付 stuur verstuur doorsturen bijvoegen kopieer delen wyślij wysłać przekaż dołącz skopiuj udostępnij gönder ilet ekle kopyala paylaş skicka vidarebefordra bifoga kopiera dela 보내 전송 전달 첨부 복사 أرسل إرسال أرفق انسخ',
  DEST: 'dirección servidor externo adresse serveur externe extern externen endereço indirizzo esterno адрес сервер 地址 服务器 外部 アドレス サーバー',
  TIME: 'antes después cada cuando primero también avant après chaque quand lorsque aussi également bevor nachdem jedes jeder wenn zuerst auch depois primeiro prima dopo ogni anche перед после каждый когда сначала также 之前 之后 每次 首先 前に 毎回 最初',
  DESTROY: 'borrar eliminar elimina borra supprimer supprimez effacer löschen lösche entfernen apagar excluir deletar eliminare cancellare удали удалить стереть 删除 清除 削除 verwijder wis usuń sil radera 삭제 احذف',
  CALL: 'llama llamar ejecuta ejecutar usa usar utiliza appeler appelez exécuter utiliser utilisez aufrufen rufe ausführen führe verwende verwenden benutze nutze chamar chame executar usare chiamare chiama eseguire esegui вызови вызвать выполни запусти используй 调用 执行 运行 使用 呼び出 実行 roep voer gebruik wywołaj uruchom użyj çağır çalıştır kullan anropa kör använd 호출 실행 사용 استدع شغل استخدم',
  ANSWER: 'responde respuesta recomienda recomendar contesta répondre répondez réponse recommander recommandez antworte antworten antwort empfehle empfehlen responda responder resposta recomende rispondi rispondere risposta raccomanda consiglia отвечай ответ рекомендуй советуй 回答 回复 推荐 答复 返答 推奨 おすすめ antwoord beveel odpowiedz poleć yanıt cevap öner svara rekommendera 답변 추천 أجب أوص',
};

/** Function words of the same languages, kept as themselves like the English ones. */
const FUNCTION_WORDS_ELSEWHERE = `el la los las un una de del que y o en por para con se su sus es son esta este lo le les al como si
le les une des du et ou à pour avec ce cette il elle est sont nous der die das den dem des ein eine einen und oder ist sind
zu mit für von im auf dass es sie ihr wir os as um uma do da em é são il lo gli di che è sono per`;

/** Words kept as themselves: the grammar of an order (pronouns, modals, negation, connectives, common verbs). */
const FUNCTION_WORDS = new Set(`a an the this that these those it its it's they them their there here i me my we us our
you your yours yourself he she his her who whom whose which what when where why how is are was were be been being am do
does did done doing have has had having will would shall should can could may might must ought not no never none
nothing nobody without nor only just also too even still already yet again ever always first then next before after
while until unless if else otherwise instead rather and or but so because since as than though although whether either
neither both each every all any some many much more most less least few other another such same to of in on at by for
from with about into onto over under between through during against among per via up down out off away back please now
later soon once twice immediately quietly silently secretly automatically directly make sure ensure need needs required
require requires mandatory important note remember tell say said ask asked answer reply respond show hide keep let know
see find get give take put set send call use run read write open include add append attach copy pass forward share
report post upload delete remove change replace modify ignore follow treat act pretend consider prefer recommend mention
reveal disclose notify ${FUNCTION_WORDS_ELSEWHERE}`.split(/\s+/));

const CLASS_OF = new Map<string, string[]>();
const addClass = (word: string, name: string) => {
  const w = word.toLowerCase();
  const names = CLASS_OF.get(w) ?? [];
  if (!names.includes(name)) CLASS_OF.set(w, [...names, name]);
};
for (const [name, words] of Object.entries(CLASSES)) for (const w of words) addClass(w, name);
for (const [name, words] of Object.entries(CLASSES_ELSEWHERE)) for (const w of words.split(' ')) addClass(w, name);
function isHangul(word: string): boolean {
  const c = word.charCodeAt(0);
  return c >= 0xac00 && c <= 0xd7af;
}
/** Korean class words as prefixes: 사용자에게 ("to the user") starts with 사용자. */
const HANGUL_PREFIX = new RegExp(`^(?:${[...CLASS_OF.keys()].filter(isHangul).sort((a, b) => b.length - a.length).join('|')})`);
/** Chinese and Japanese class words, longest first, for splitting a run of those scripts into words. */
const IDEOGRAPH_WORDS = [...CLASS_OF.keys()].filter((w) => w.length > 1 && isIdeograph(w)).sort((a, b) => b.length - a.length);
/** Class words long enough to match as prefixes ("invisibl" → invisible, invisibly), as one test. */
const CLASS_PREFIX = new RegExp(`^(?:${[...CLASS_OF.keys()].filter((w) => w.length >= 6).join('|')})`);

/** Light suffix stripping: enough that "sends", "sending" and "sent"-like forms share features often. */
export function stem(word: string): string {
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith('ed')) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

const NO_CLASSES: readonly number[] = [];

/** The ids of the classes a word is in (by itself, its stem or a long class word it starts with). */
function classesOf(word: string, stemmed: string): readonly number[] {
  const names = CLASS_OF.get(word) ?? CLASS_OF.get(stemmed);
  if (names !== undefined) return names.map(tokenId);
  const prefix = CLASS_PREFIX.exec(stemmed) ?? (isHangul(word) ? HANGUL_PREFIX.exec(word) : null);
  return prefix === null ? NO_CLASSES : CLASS_OF.get(prefix[0])!.map(tokenId);
}

/** Chinese and Japanese characters are kept as words: shapes are suffixes, which those scripts do not have. */
function isIdeograph(word: string): boolean {
  const c = word.charCodeAt(0);
  return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff);
}

/** The shape a content word is reduced to. */
function shape(word: string): string {
  if (/^\d/.test(word)) return '_num';
  if (word.endsWith('ing')) return '_ing';
  if (word.endsWith('ed')) return '_ed';
  if (word.endsWith('ly')) return '_ly';
  if (word.endsWith('tion') || word.endsWith('sion')) return '_tion';
  if (word.endsWith('s')) return '_s';
  return '_w';
}

const MARKERS = new Set(['URL', 'EMAIL', 'PATH']);

/** A run with Chinese or Japanese script: known words whole (longest first), other such characters one by one. */
function splitIdeographs(run: string, out: string[]): void {
  let other = '';
  for (let i = 0; i < run.length;) {
    if (!isIdeograph(run[i])) {
      other += run[i++];
      continue;
    }
    if (other !== '') out.push(other);
    other = '';
    const known = IDEOGRAPH_WORDS.find((w) => run.startsWith(w, i));
    out.push(known ?? run[i]);
    i += known?.length ?? 1;
  }
  if (other !== '') out.push(other);
}
const CJK = /[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]/;

/** Lower-cased words, with URLs, email addresses and home/config paths each replaced by one marker word, and
 *  identifiers split at underscores and case changes. */
export function words(text: string): string[] {
  // Identifiers are words too: send_email, notifyUser, always-approve. Case is needed for the split, then dropped.
  let marked = /[a-z][A-Z]/.test(text) ? text.replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2').toLowerCase() : text.toLowerCase();
  // Each replacement runs only when its cheap hint is there: most sentences have no URL, address or path.
  if (marked.includes('://')) marked = marked.replace(/https?:\/\/\S+/g, ' URL ');
  if (marked.includes('@')) marked = marked.replace(/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, ' EMAIL ');
  if (marked.includes('/')) marked = marked.replace(/(?:~|\$home|\/etc|\/root|\/home)\/[^\s,;)'"]*/g, ' PATH ');
  if (marked.includes('.')) marked = marked.replace(/\.(?:env|ssh|aws|npmrc|netrc|kube|docker)\b[^\s,;)'"]*/g, ' PATH ');
  if (marked.includes('_')) marked = marked.replace(/_+/g, ' ');
  const found = marked.match(/[\p{L}\p{N}'’]+/gu);
  if (found === null) return [];
  const out: string[] = [];
  for (const w of found) {
    // A run of Chinese or Japanese script is one character per word: those scripts put no blanks between words.
    if (w.charCodeAt(w.length - 1) >= 0x3040 || w.charCodeAt(0) >= 0x3040 ? CJK.test(w) : false) splitIdeographs(w, out);
    else if (w.includes("'") || w.includes('’')) {
      const trimmed = w.replace(/’/g, "'").replace(/^'+|'+$/g, '');
      if (trimmed !== '') out.push(trimmed);
    } else out.push(w);
  }
  return out;
}

/** Ids of kept words and class names: the vocabulary after shaping is small, so they are remembered. */
const IDS = new Map<string, number>();

function tokenId(token: string): number {
  let id = IDS.get(token);
  if (id === undefined) {
    id = 2166136261; // FNV-1a
    for (let i = 0; i < token.length; i++) id = Math.imul(id ^ token.charCodeAt(i), 16777619);
    if (IDS.size < 100_000) IDS.set(token, id);
  }
  return id;
}

/** One feature's slot from its kind (a small constant) and up to three ids: a multiplicative mix, no strings built. */
function slot(kind: number, a: number, b = 0, c = 0): number {
  let h = Math.imul(kind + 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ a, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15) ^ b, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 13) ^ c, 0x165667b1);
  return (h ^ (h >>> 16)) & (FEATURE_SLOTS - 1);
}

/** Feature kinds, mixed into each slot so a bigram and a class pair of the same ids land apart. */
const Kind = { Bias: 0, Word: 1, Bigram: 2, Trigram: 3, Class: 4, WordClass: 5, ClassWord: 6, ClassClass: 7, ClassGap: 8, ClassPair: 9, First: 10, FirstClass: 11, Length: 12, LengthClass: 13 } as const;

/** Sentence length in words, bucketed: a fragment of four words needs stronger evidence than a sentence of twenty. */
function lengthBucket(words: number): number {
  return words <= 4 ? 1 : words <= 8 ? 2 : words <= 16 ? 3 : 4;
}

/** What a word contributes, remembered by word: most words of a text recur, and working them out is the cost. */
interface WordInfo {
  readonly kept: number;
  readonly classes: readonly number[];
}
const WORD_INFO = new Map<string, WordInfo>();
const MAX_REMEMBERED_WORDS = 50_000;

function wordInfo(w: string): WordInfo {
  let info = WORD_INFO.get(w);
  if (info === undefined) {
    const marker = MARKERS.has(w);
    const stemmed = marker ? w : stem(w);
    const classes = marker ? [tokenId(w)] : classesOf(w, stemmed);
    info = { kept: tokenId(marker || FUNCTION_WORDS.has(w) || classes.length > 0 || isIdeograph(w) ? stemmed : shape(w)), classes };
    if (WORD_INFO.size >= MAX_REMEMBERED_WORDS) WORD_INFO.clear();
    WORD_INFO.set(w, info);
  }
  return info;
}

// Which slots one call has emitted already: a stamp per slot beats a Set of numbers (no allocation per sentence).
const STAMPS = new Uint32Array(FEATURE_SLOTS);
let stamp = 0;

/**
 * Classes one of which an order to the model names: whom it addresses or keeps in the dark, what it wants sent,
 * hidden, overridden, called, answered or destroyed. Negation, modals and time words alone do not make one.
 */
const SUBJECT_CLASSES = new Set(['MODEL', 'USER', 'REVEAL', 'HIDE', 'OVERRIDE', 'DIRECTIVE', 'SECRET', 'SEND', 'DEST', 'PATH', 'DESTROY', 'CALL', 'ANSWER', 'URL', 'EMAIL'].map(tokenId));

/**
 * The hashed feature slots of one sentence (each once), including a bias slot. None — the sentence is not scored —
 * for fewer than two words or no word of a subject class: "internal build marker for the docs generator" orders
 * nobody about anything, however its shape resembles training examples.
 */
export function sentenceFeatures(sentence: string): number[] {
  const raw = words(sentence);
  const n = raw.length;
  if (n < 2) return [];
  const info = raw.map(wordInfo);
  if (!info.some((w) => w.classes.some((c) => SUBJECT_CLASSES.has(c)))) return [];
  if (++stamp === 0xffffffff) {
    STAMPS.fill(0);
    stamp = 1;
  }
  const out: number[] = [];
  const add = (s: number) => {
    if (STAMPS[s] !== stamp) {
      STAMPS[s] = stamp;
      out.push(s);
    }
  };
  add(slot(Kind.Bias, 0));
  const present: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = info[i].kept;
    add(slot(Kind.Word, k));
    if (i + 1 < n) add(slot(Kind.Bigram, k, info[i + 1].kept));
    if (i + 2 < n) add(slot(Kind.Trigram, k, info[i + 1].kept, info[i + 2].kept));
    for (const c of info[i].classes) {
      if (!present.includes(c)) present.push(c);
      add(slot(Kind.Class, c));
      if (i > 0) add(slot(Kind.WordClass, info[i - 1].kept, c));
      if (i + 1 < n) {
        add(slot(Kind.ClassWord, c, info[i + 1].kept));
        for (const d of info[i + 1].classes) add(slot(Kind.ClassClass, c, d));
      }
      if (i + 2 < n) for (const d of info[i + 2].classes) add(slot(Kind.ClassGap, c, d));
    }
  }
  // Which classes meet in one sentence, in any order: "user" and "not" and "tell" anywhere in it.
  const met = present.sort((x, y) => x - y);
  const length = lengthBucket(n);
  add(slot(Kind.Length, length));
  for (const c of met) add(slot(Kind.LengthClass, length, c));
  for (let a = 0; a < met.length; a++) for (let b = a + 1; b < met.length; b++) add(slot(Kind.ClassPair, met[a], met[b]));
  add(slot(Kind.First, info[0].kept));
  for (const c of info[0].classes) add(slot(Kind.FirstClass, c));
  return out;
}
