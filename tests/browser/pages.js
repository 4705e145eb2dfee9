/*
 * pages.js SCENARIO.json cashier|manager: the cashier and manager screens in Debian's
 * chromium, driven by playwright-core (executablePath = the system
 * chromium; no browser is downloaded).
 *
 * run.py starts the till and writes the scenario: the page's address, the
 * API token (given to the page in the address's fragment, as a kiosk
 * launcher would), the manager PIN, and genuine codes from kassa-operator.
 * It runs the cashier part, delivers the documents as a store's timer
 * would (`kassa ofd flush`: the operator must know of the sale before it
 * takes the return), then the manager part.
 * Every step is checked on what a person sees: the focused field, lines
 * with their marks, the red banner's Russian text, colour and size, the
 * receipt and its QR picture, the label preview. Each page is looked at
 * at 1024×768 with touch enabled and must never scroll sideways; a
 * console error (a script error, a CSP refusal) fails the run.
 * Screenshots go to the artifacts folder; the label the manager saw and
 * the code it names go to scenario.out for run.py to read back with
 * libdmtx.
 *
 * The phases warning and stopped are a remote shop's till at 49 and 73
 * hours of its three-day batch (run.py moves its clock): what the cashier
 * reads about the deadline, a 4-character tail the operator answered for,
 * the 72-hour refusal read whole, and a refused first scan that leaves a
 * receipt the cashier can cancel and the manager can open a return over.
 *
 * Prints "FAIL name detail" per failed check and "pages.js: N passed, M
 * failed"; exit 1 on any failure.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const sc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const PHASE = process.argv[3];
const GS = '\u001d';
const TIMEOUT = 15000;
let passed = 0;
let failed = 0;
const consoleErrors = [];
const out = {};

function check(name, cond, detail) {
  if (cond) passed++;
  else {
    failed++;
    const d = detail === undefined ? '' : JSON.stringify(detail);
    console.log(`FAIL ${name} ${d.slice(0, 1500)}`);
  }
  return cond;
}

/* Spaces of every kind (Intl puts narrow no-break spaces in numbers) as one. */
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();

async function shot(page, name) {
  await page.screenshot({ path: path.join(sc.artifacts, name) });
}

async function noSideScroll(page, where) {
  const w = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    document.documentElement.clientWidth,
    document.body.scrollWidth,
  ]);
  check(`${where}: no horizontal scrolling at 1024×768`, w[0] <= 1024 && w[2] <= 1024, w);
}

async function focusedId(page) {
  return page.evaluate(() => (document.activeElement ? document.activeElement.id : ''));
}

/* A keyboard-wedge scanner: every character typed, GS as Ctrl+], Enter. */
async function typeScan(page, code) {
  const parts = code.split(GS);
  for (let i = 0; i < parts.length; i++) {
    if (i) await page.keyboard.press('Control+BracketRight');
    await page.keyboard.type(parts[i], { delay: 0 });
  }
  await page.keyboard.press('Enter');
}

async function visible(page, selector) {
  try {
    await page.waitForSelector(selector, { state: 'visible', timeout: TIMEOUT });
    return true;
  } catch (e) {
    return false;
  }
}

async function text(page, selector) {
  return norm(await page.locator(selector).first().innerText());
}

async function lineCount(page, list) {
  return page.locator(`${list} > li`).count();
}

async function waitLines(page, list, n) {
  try {
    await page.waitForFunction(
      ([l, k]) => document.querySelectorAll(`${l} > li`).length === k,
      [list, n],
      { timeout: TIMEOUT },
    );
    return true;
  } catch (e) {
    return false;
  }
}

async function tapKeys(page, container, keys) {
  for (const k of keys) await page.locator(`${container} .key`, { hasText: k }).first().tap();
}

async function cashier(page) {
  /* Without a token the page asks for one; a wrong one is refused in the
   * service's words (one wrong try: the limiter locks at five). */
  await page.goto(`${sc.base}/`);
  check('no token: the sign-in card', await visible(page, '#signin'));
  await shot(page, 'cashier-signin.png');
  await page.locator('#signin-token').fill('not-the-token');
  await page.locator('#signin button[type=submit]').tap();
  await page.waitForFunction(
    () => document.querySelector('#signin .form-error').textContent !== '',
    null,
    { timeout: TIMEOUT },
  );
  check(
    'wrong token: refused in Russian',
    (await text(page, '#signin .form-error')) === 'Нужен действующий токен API.',
    await text(page, '#signin .form-error'),
  );
  /* The launcher's address on the open page: only the fragment changes, so
   * the page takes the token and loads again. */
  const reloaded = page.waitForEvent('load');
  await page.goto(`${sc.base}/#token=${encodeURIComponent(sc.token)}`);
  await reloaded;
  check('the token leaves the address bar at once', !page.url().includes('token'), page.url());
  const stored = await page.evaluate(() => sessionStorage.getItem('kassa.token'));
  check('the token is kept for this tab only', stored === sc.token);

  /* The shift is closed: the screen says so and opens it. */
  check('closed shift: the dialog', await visible(page, '#shift'));
  check('closed shift: its title', (await text(page, '#shift-title')) === 'Смена закрыта');
  await shot(page, 'cashier-shift.png');
  await page.locator('#shift-ok').tap();
  await page.waitForSelector('#shift', { state: 'hidden', timeout: TIMEOUT });
  await page.waitForFunction(
    () => /Смена № \d+/.test(document.getElementById('shift-info').textContent),
    null,
    { timeout: TIMEOUT },
  );
  check('shift opened from the screen', /Смена № \d+/.test(await text(page, '#shift-info')));
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  check('the scan field has the focus', (await focusedId(page)) === 'scan');
  await shot(page, 'cashier-empty.png');
  await noSideScroll(page, 'cashier, empty');

  /* A marked good, typed as a scanner types it (GS as Ctrl+]). */
  await typeScan(page, sc.sale_code);
  check('marked good: one line', await waitLines(page, '#lines', 1));
  check(
    'marked good: [М+] before it',
    (await text(page, '#lines > li:nth-child(1) .mark')) === '[М+]',
  );
  check(
    'marked good: its name',
    (await text(page, '#lines > li:nth-child(1) .line-name')).startsWith('Джинсы'),
  );
  check(
    'marked good: the decision in words',
    (await text(page, '#lines > li:nth-child(1) .decision')).includes('проверен'),
  );
  /* The flash lasts 1.4 s: count its showings rather than race it. */
  check(
    'marked good: green flash with the line',
    (await page.locator('#flash').getAttribute('data-shown')) === '1' &&
      (await page.locator('#flash-text').textContent()).startsWith('[М+] Джинсы'),
  );
  check(
    'marked good: the total',
    (await text(page, '#total')) === '3 490,00 ₽',
    await text(page, '#total'),
  );

  /* A tap elsewhere gives the focus back to the scan field. */
  await page.locator('.total-box').tap();
  await page
    .waitForFunction(() => document.activeElement.id === 'scan', null, { timeout: 3000 })
    .catch(() => {});
  check(
    'the focus comes back after a tap',
    (await focusedId(page)) === 'scan',
    await focusedId(page),
  );

  await typeScan(page, sc.bread);
  check('plain good: second line', await waitLines(page, '#lines', 2));

  /* A weighed good: the till asks for the weight, the keypad gives it. */
  await typeScan(page, sc.bananas);
  check('weighed good: the keypad opens', await visible(page, '#keypad'));
  check('weighed good: it says so', (await text(page, '#keypad-title')) === 'Весовой товар');
  await tapKeys(page, '#keypad', ['0', ',', '5', '3', '2']);
  await page.locator('#keypad-ok').tap();
  check('weighed good: third line', await waitLines(page, '#lines', 3));
  check(
    'weighed good: 0,532 kg',
    (await text(page, '#lines > li:nth-child(3) .line-sum')).includes('0,532'),
    await text(page, '#lines > li:nth-child(3) .line-sum'),
  );
  const totalBefore = await text(page, '#total');

  /* A counterfeit: the red banner, in Russian, large; nothing added. The
   * scan arrives with raw GS characters this time. */
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  await page.keyboard.insertText(sc.fake_code);
  await page.keyboard.press('Enter');
  check('refusal: the banner', await visible(page, '#banner'));
  const banner = await page.evaluate(() => {
    const b = document.getElementById('banner');
    const m = document.getElementById('banner-message');
    return {
      reason: b.dataset.reason,
      message: m.textContent,
      background: getComputedStyle(b).backgroundColor,
      size: parseFloat(getComputedStyle(m).fontSize),
      weight: getComputedStyle(m).fontWeight,
      width: b.getBoundingClientRect().width,
    };
  });
  check('refusal: the reason is counterfeit', banner.reason === 'counterfeit', banner);
  check(
    'refusal: the Russian reason, as the API gives it',
    banner.message === sc.counterfeit_ru,
    banner,
  );
  check('refusal: red', banner.background === 'rgb(200, 30, 30)', banner);
  check('refusal: large bold type', banner.size >= 28 && Number(banner.weight) >= 700, banner);
  check('refusal: wide', banner.width >= 560, banner);
  check('refusal: the receipt is unchanged', (await lineCount(page, '#lines')) === 3);
  check('refusal: the total is unchanged', (await text(page, '#total')) === totalBefore);
  check('refusal: the field keeps the focus', (await focusedId(page)) === 'scan');
  await page.waitForTimeout(450); /* the shake settles */
  await shot(page, 'cashier-refused.png');
  await noSideScroll(page, 'cashier, refused');

  /* The next scan clears the banner; a line is removed again. */
  await typeScan(page, sc.bread);
  check('a new scan clears the banner', await waitLines(page, '#lines', 4));
  check('banner gone', await page.locator('#banner').isHidden());
  await page.locator('#lines > li:nth-child(4) .line-remove').tap();
  check('line removed', await waitLines(page, '#lines', 3));
  check('total back after the removal', (await text(page, '#total')) === totalBefore);

  /* Mixed payment: 1000 roubles cash, the rest by card. */
  await page.locator('#pay-mixed').tap();
  check('mixed payment: the keypad', await visible(page, '#keypad'));
  await page.keyboard.type('1000');
  await page.keyboard.press('Enter');
  check('closed: the receipt', await visible(page, '#closed'));
  const receipt = await page.locator('#closed-text').innerText();
  check('closed: [М+] before the marked line', /\[М\+\] Джинсы/.test(receipt), receipt);
  check(
    'closed: the weighed line',
    receipt.includes('0.532') || receipt.includes('0,532'),
    receipt,
  );
  check(
    'closed: cash part named',
    norm(await text(page, '#closed-meta')).includes('наличными 1 000,00 ₽'),
    await text(page, '#closed-meta'),
  );
  const qr = await page.evaluate(() => {
    const i = document.getElementById('closed-qr');
    return { w: i.naturalWidth, h: i.naturalHeight, src: i.src.slice(0, 22) };
  });
  check(
    'closed: the QR picture',
    qr.w > 100 && qr.w === qr.h && qr.src === 'data:image/png;base64,',
    qr,
  );
  await shot(page, 'cashier-closed.png');
  await noSideScroll(page, 'cashier, closed');

  /* What window.print() prints: the receipt alone. */
  await page.emulateMedia({ media: 'print' });
  const printView = await page.evaluate(() => ({
    area: getComputedStyle(document.getElementById('print-area')).display,
    main: getComputedStyle(document.querySelector('.cashier-main')).display,
    overlay: getComputedStyle(document.getElementById('closed')).display,
    text: document.getElementById('print-text').textContent.length,
    qr: document.getElementById('print-qr').naturalWidth,
  }));
  check(
    'print view: only the receipt',
    printView.area === 'block' &&
      printView.main === 'none' &&
      printView.overlay === 'none' &&
      printView.text > 100 &&
      printView.qr > 100,
    printView,
  );
  await shot(page, 'cashier-print.png');
  await page.emulateMedia({ media: 'screen' });
  await page.locator('#closed-next').tap();
  check('next receipt: empty', await visible(page, '#lines-empty'));
}

async function manager(page) {
  await page.goto(`${sc.base}/manager#token=${encodeURIComponent(sc.token)}`);
  check('manager: the PIN first', await visible(page, '#pin'));
  await shot(page, 'manager-pin.png');
  await tapKeys(page, '#pin', ['0', '0', '0', '0']);
  await page.locator('#pin-ok').tap();
  await page.waitForFunction(() => document.getElementById('pin-error').textContent !== '', null, {
    timeout: TIMEOUT,
  });
  check(
    'manager: a wrong PIN is refused in Russian',
    (await text(page, '#pin-error')) === 'Неверный PIN менеджера.',
    await text(page, '#pin-error'),
  );
  await page.locator('#pin-input').fill('');
  await tapKeys(page, '#pin', sc.pin.split(''));
  await page.locator('#pin-ok').tap();
  await page.waitForSelector('#pin', { state: 'hidden', timeout: TIMEOUT });
  check('manager: the PIN opens the screen', await visible(page, '#pane-overview'));
  await page.waitForFunction(
    () => document.getElementById('facts-fn').textContent.length > 0,
    null,
    { timeout: TIMEOUT },
  );
  const status = await page.evaluate(async () => {
    const r = await fetch('/api/status', {
      headers: { Authorization: 'Bearer ' + sessionStorage.getItem('kassa.token') },
    });
    return r.json();
  });
  const fn = await text(page, '#facts-fn');
  check(
    'overview: the FN',
    fn.includes(sc.fn_number) && fn.includes('фискальный режим') && fn.includes('маркировка'),
    fn,
  );
  check(
    'overview: the key age',
    /Ключи проверки обновлены (сегодня|\d+ дн назад) \(\d\d\.\d\d\.\d{4}/.test(fn),
    fn,
  );
  const ob = await text(page, '#facts-outbox');
  const unsent = status.outbox.unsent_documents;
  check(
    'overview: unsent documents as the status says',
    unsent
      ? new RegExp(`Документы без подтверждения ОФД ${unsent}, старейший`).test(ob)
      : ob.includes('Документы без подтверждения ОФД нет'),
    [unsent, ob],
  );
  check('overview: the three-day batch', ob.includes('Трёхдневный пакет'), ob);
  const ca = await text(page, '#facts-cache');
  /* Synced just before the test: fresh. The last sync's time is shown as
   * the status gives it (a date, or "ни разу" for 0). */
  check(
    'overview: cache freshness',
    status.cache.stale === false &&
      ca.includes('Свежесть актуален') &&
      (status.cache.last_sync_ms
        ? /Синхронизация \d\d\.\d\d\.\d{4}/.test(ca)
        : ca.includes('Синхронизация ни разу')),
    [status.cache, ca],
  );
  check(
    "overview: the warnings are the status's",
    status.warnings.length === 0
      ? (await text(page, '#warnings')) === 'Предупреждений нет'
      : (await page.locator('#warnings > li.warning').count()) === status.warnings.length,
    [status.warnings, await text(page, '#warnings')],
  );
  await shot(page, 'manager-overview.png');
  await noSideScroll(page, 'manager, overview');

  /* A return: the sold code, and the same good without a code. */
  await page.locator('#tab-returns').tap();
  await page.locator('#return-open').tap();
  check('return: opened', await visible(page, '#return-work'));
  await page.locator('#return-scan').focus();
  await typeScan(page, sc.sale_code);
  check('return: line by code', await waitLines(page, '#return-lines', 1));
  await page.locator('#return-gtin').fill(sc.jeans_ean);
  await page.locator('#return-nocode-form button').tap();
  check('return: line without a code', await waitLines(page, '#return-lines', 2));
  check(
    'return: the without-code line says so',
    (await text(page, '#return-lines > li:nth-child(2) .mark')) === 'без кода',
  );
  check(
    'return: the total',
    (await text(page, '#return-total')) === '6 980,00 ₽',
    await text(page, '#return-total'),
  );
  await shot(page, 'manager-return-open.png');
  await page.locator('#return-cash').tap();
  check('return: closed', await visible(page, '#return-done'));
  check('return: its receipt', (await page.locator('#return-text').innerText()).includes('Джинсы'));
  await shot(page, 'manager-return.png');
  await noSideScroll(page, 'manager, return');

  /* Remarking the good that came back without a code. */
  await page.locator('#tab-remark').tap();
  check('remark: one good waits', await waitLines(page, '#pending', 1));
  check('remark: named', (await text(page, '#pending > li .line-name')).startsWith('Джинсы'));
  await page.locator('#pending > li button').tap();
  check('remark: the label', await visible(page, '#label-card'));
  await page.waitForFunction(() => document.getElementById('label-img').naturalWidth > 0, null, {
    timeout: TIMEOUT,
  });
  const label = await page.evaluate(() => {
    const i = document.getElementById('label-img');
    const facts = [...document.querySelectorAll('#label-facts dt')].map((dt) => [
      dt.textContent,
      dt.nextElementSibling.textContent,
    ]);
    return {
      w: i.naturalWidth,
      h: i.naturalHeight,
      src: i.src,
      facts: Object.fromEntries(facts),
      shown: i.getBoundingClientRect().width,
    };
  });
  check(
    'remark: a 58×40 mm label at 203 dpi',
    label.w === 464 && label.h === 320,
    label.w + 'x' + label.h,
  );
  check('remark: shown large enough to check', label.shown >= 260, label.shown);
  check(
    'remark: the operator was told',
    label.facts['Честный ЗНАК'] === 'уведомлён о замене',
    label.facts,
  );
  check(
    'remark: it replaces the return',
    (label.facts['Заменяет'] || '').startsWith('возврат без кода'),
    label.facts,
  );
  check('remark: nothing waits any more', await waitLines(page, '#pending', 0));
  out.label_png = label.src.replace(/^data:image\/png;base64,/, '');
  out.new_code = await page.evaluate(() => document.getElementById('label-code').dataset.code);
  /* What the manager reads: the text with each GS mark (a .gs element, not
   * the letters "GS", which a code may hold) read back as 0x1D. */
  const shownCode = await page.evaluate(() =>
    [...document.getElementById('label-code').childNodes]
      .map((n) => (n.nodeType === Node.TEXT_NODE ? n.textContent : '\u001d'))
      .join(''),
  );
  check('remark: the new code shown whole', shownCode === out.new_code, [shownCode, out.new_code]);
  check('remark: done, in words', await visible(page, '#remark-done'));
  await shot(page, 'manager-remark.png');
  await noSideScroll(page, 'manager, remark');

  /* Goods acceptance: two codes on the document, one scanned. */
  await page.locator('#tab-accept').tap();
  await page.locator('#accept-doc').fill(sc.accept_list.join('\n'));
  await page.locator('#accept-scan').focus();
  await typeScan(page, sc.accept_list[0]);
  check('accept: one scanned', (await text(page, '#accept-scanned-count')) === 'Отсканировано: 1');
  await page.locator('#accept-compare').tap();
  check('accept: the report', await visible(page, '#accept-report'));
  await page.waitForFunction(
    () => document.querySelectorAll('#accept-missing li').length === 1,
    null,
    { timeout: TIMEOUT },
  );
  check(
    'accept: the missing code named',
    (await text(page, '#accept-missing')).includes(sc.accept_list[1].split(GS)[0]),
  );
  check('accept: nothing extra', (await lineCount(page, '#accept-extra')) === 0);
  await shot(page, 'manager-accept-compare.png');
  await page.locator('#accept-part').tap();
  await page.waitForFunction(
    () => /частично/.test(document.getElementById('accept-message').textContent),
    null,
    { timeout: TIMEOUT },
  );
  const counts = await text(page, '#accept-counts');
  check('accept: part accepted', /1 принято/.test(counts), counts);
  await shot(page, 'manager-accept.png');
  await noSideScroll(page, 'manager, acceptance');

  await page.locator('#lock').tap();
  check('lock: the PIN is asked again', await visible(page, '#pin'));
}

/* ---- what the cashier reads about deadlines and answers (issue 23) ------- */

/* The remote shop at 49 h: the batch warning with the true time left, and
 * a 4-character tail the operator answered for. */
async function warning(page) {
  await page.goto(`${sc.remote49}/#token=${encodeURIComponent(sc.token)}`);
  check('49 h: the deadline strip', await visible(page, '#deadlines li'));
  const strip = await text(page, '#deadlines');
  check(
    '49 h: the true time left (23 hours), not "72 hours"',
    strip.includes('через 23 часа продажа маркированных товаров будет остановлена') &&
      !strip.includes('72 час'),
    strip,
  );
  check('49 h: what to do', strip.includes('Выгрузите пакет (kassa batch export --out FILE).'), strip);
  check(
    '49 h: the chip counts the same hours',
    (await text(page, '#chips')).includes('осталось 23 ч'),
    await text(page, '#chips'),
  );
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  await typeScan(page, sc.water_code);
  check('4-char tail: one line', await waitLines(page, '#lines', 1));
  const line = await page.evaluate(() => ({
    mark: document.querySelector('#lines > li .mark').textContent,
    decision: document.querySelector('#lines > li .decision').textContent,
    tail: (document.querySelector('#lines > li .decision-tail') || {}).textContent || '',
    all: document.querySelector('#lines > li').textContent,
  }));
  check('4-char tail: the FN could not check it ([М])', line.mark === '[М]', line);
  check(
    '4-char tail: the operator answered, in words',
    line.decision === 'КМ проверен в Честном ЗНАКЕ',
    line,
  );
  check(
    "4-char tail: the FN's part apart, in small type",
    line.tail === 'код проверки не по ключу ФН',
    line,
  );
  check('4-char tail: never «без ответа»', !line.all.includes('без ответа'), line);
  await shot(page, 'cashier-48h.png');
  await noSideScroll(page, 'cashier, 49 h');
  await page.locator('#pay-cash').tap();
  check('49 h: the sale closes', await visible(page, '#closed'));
  await page.locator('#closed-next').tap();
}

/* The remote shop at 73 h: marked sales stopped. The refusal is read
 * whole; a refused first scan leaves an empty receipt, shown and
 * cancellable, that does not block the manager's return. */
async function stopped(page) {
  await page.goto(`${sc.remote73}/#token=${encodeURIComponent(sc.token)}`);
  check('73 h: the deadline strip', await visible(page, '#deadlines li'));
  await page.waitForFunction(() => document.activeElement.id === 'scan', null, {
    timeout: TIMEOUT,
  });
  await typeScan(page, sc.jeans_code);
  check('73 h: the refusal', await visible(page, '#banner'));
  const b = await page.evaluate(() => {
    const box = (id) => {
      const e = document.getElementById(id);
      const r = e.getBoundingClientRect();
      return { text: e.textContent, bottom: r.bottom, clipped: e.scrollHeight > e.clientHeight + 1 };
    };
    return {
      reason: document.getElementById('banner').dataset.reason,
      head: box('banner-message'),
      more: box('banner-more'),
      en: box('banner-en'),
      banner: box('banner'),
      height: window.innerHeight,
    };
  });
  check('73 h: reason delivery_overdue', b.reason === 'delivery_overdue', b.reason);
  check(
    '73 h: the reason large, once',
    b.head.text === 'Продажа маркированных товаров остановлена: сроки передачи данных нарушены.',
    b.head.text,
  );
  check(
    '73 h: the explanation whole, with what to do',
    b.more.text.startsWith('Уведомления о продажах не переданы оператору') &&
      b.more.text.includes('Выгрузите пакет (kassa batch export --out FILE)') &&
      b.more.text.endsWith('(kassa batch upload FILE, kassa ofd flush).') &&
      !b.more.text.includes('остановлена: сроки'),
    b.more.text,
  );
  check(
    '73 h: the English line whole (no broken character)',
    b.en.text.endsWith('(kassa batch upload FILE, kassa ofd flush).') && !b.en.text.includes('\uFFFD'),
    b.en.text,
  );
  check(
    '73 h: nothing clipped, all on the screen',
    !b.head.clipped && !b.more.clipped && !b.en.clipped && b.banner.bottom <= b.height,
    b,
  );
  await page.waitForTimeout(450); /* the shake settles */
  await shot(page, 'cashier-72h.png');
  await noSideScroll(page, 'cashier, 73 h');

  /* The first scan was refused: the receipt it opened is shown, open and
   * empty, and can be cancelled. */
  const shown = async () => ({
    meta: await text(page, '#receipt-meta'),
    cancel: await page.locator('#cancel').isEnabled(),
    lines: await lineCount(page, '#lines'),
  });
  let r = await shown();
  check('refused first scan: the receipt shows open', /открыт \d\d:\d\d/.test(r.meta), r);
  check('refused first scan: «Отменить чек» can be tapped', r.cancel && r.lines === 0, r);
  /* The manager's return is not blocked by it. */
  const api = (method, url, body, pin) =>
    page.evaluate(
      async ([m, u, b, p]) => {
        const h = { Authorization: 'Bearer ' + sessionStorage.getItem('kassa.token') };
        if (b) h['Content-Type'] = 'application/json';
        if (p) h['X-Manager-PIN'] = p;
        const res = await fetch(u, { method: m, headers: h, body: b ? JSON.stringify(b) : undefined });
        return { status: res.status, body: await res.json() };
      },
      [method, url, body, pin],
    );
  const ret = await api('POST', '/api/receipts', { operation: 'return' }, sc.pin);
  check(
    "the manager's return opens over the empty receipt",
    ret.status === 201 && ret.body.receipt.operation === 'return',
    ret,
  );
  const del = await api('DELETE', '/api/receipts/current');
  check('the return cancelled again', del.status === 200, del);
  /* A second refused first scan, cancelled from the screen this time. */
  await typeScan(page, sc.jeans_code);
  check('73 h: refused again', await visible(page, '#banner'));
  r = await shown();
  check('refused first scan again: open and cancellable', r.cancel && /открыт/.test(r.meta), r);
  await page.locator('#cancel').tap();
  await page.locator('#cancel').tap(); /* the second tap within 3 s cancels */
  await page.waitForFunction(
    () => document.getElementById('receipt-meta').textContent === 'не открыт',
    null,
    { timeout: TIMEOUT },
  ).catch(() => {});
  r = await shown();
  check('cancelled from the screen: no receipt open', r.meta === 'не открыт' && !r.cancel, r);
  const after = await api('GET', '/api/receipts/current');
  check('the till agrees: nothing open', after.status === 200 && !after.body.receipt.open, after);
}

const PHASES = { cashier, manager, warning, stopped };

(async () => {
  if (!PHASES[PHASE]) throw new Error('usage: pages.js SCENARIO cashier|manager|warning|stopped');
  const browser = await chromium.launch({ executablePath: sc.chromium, headless: true });
  try {
    const context = await browser.newContext({
      viewport: { width: 1024, height: 768 },
      deviceScaleFactor: 1,
      hasTouch: true,
      locale: 'ru-RU',
      timezoneId: 'Europe/Moscow',
    });
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    page.on('console', (m) => {
      /* A refused request is logged by chromium itself; that is the API
       * answering, not the page failing. */
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
        consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    try {
      await PHASES[PHASE](page);
    } catch (e) {
      check(`${PHASE} screen ran through`, false, String(e.stack || e));
      await shot(page, `${PHASE}-failure.png`).catch(() => {});
    }
    check('no console errors', consoleErrors.length === 0, consoleErrors);
  } finally {
    await browser.close();
  }
  if (PHASE === 'manager') fs.writeFileSync(sc.out, JSON.stringify(out));
  console.log(`pages.js: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL pages.js ${e.stack || e}`);
  console.log(`pages.js: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
