// SPDX-License-Identifier: MIT
// The summarization data: short news reports (weather, football, stock market, events) in the
// five languages of translate-numbers (Indonesian, German, Portuguese, Italian, Spanish), each
// paired with its one-line headline. A report has one key sentence carrying the facts (drawn
// at random: city, teams and score, company and move, event and attendance, weekday), often a
// distractor sentence with a different number of the same kind ("last week it was 12
// degrees"), and filler sentences, in random order, sometimes after a generic opening line;
// so the key fact is the first sentence only about a quarter of the time.
// Invariants: generation is seeded (same seed, same reports); the test reports are distinct
// from every training report; the headline uses only facts of the key sentence.
import { Rng } from '@heed/train';

/** The named entities the facts are drawn from (shared by all languages). */
const CITIES = ['Jakarta', 'Berlin', 'Lisboa', 'Roma', 'Madrid', 'Surabaya', 'München', 'Porto', 'Milano', 'Sevilla',
  'Bandung', 'Hamburg', 'Coimbra', 'Napoli', 'Valencia', 'Medan', 'Köln', 'Braga', 'Torino', 'Bilbao'];
const TEAMS = ['Rajawali', 'Garuda', 'Adler', 'Falken', 'Leões', 'Dragões', 'Lupi', 'Aquile', 'Toros', 'Halcones',
  'Harimau', 'Bären', 'Tubarões', 'Leoni', 'Linces', 'Elang'];
const COMPANIES = ['Nusantara Energi', 'Rheinstahl', 'Atlântico Seguros', 'Vesuvio Motori', 'Iberia Solar', 'Kopi Prima',
  'Nordlicht', 'Tejo Digital', 'Arno Tessile', 'Pirineo Foods', 'Borneo Kargo', 'Alpen Pharma'];

/**
 * The named entities of the reports: cities, football teams, companies.
 *
 * @example
 * ENTITIES.cities[1]; // 'Berlin'
 */
export const ENTITIES = { cities: CITIES, teams: TEAMS, companies: COMPANIES };

/**
 * The five languages: per language the weekday phrases ("on Monday"), weather conditions,
 * market directions `[key verb, headline word]`, events `[form in the key sentence, headline
 * form]`, and per report kind the key-sentence template, the distractor template, fillers and
 * the headline template; plus generic opening lines. Placeholders: `{city} {day} {cond} {t}
 * {winner} {loser} {hi} {lo} {company} {dir} {p} {event} {n}` and `{x}` (the distractor's number).
 *
 * @example
 * LANGUAGES.de.kinds.weather.headline; // '{city}: {cond}, {t} Grad'
 */
export const LANGUAGES = {
  id: {
    name: 'Indonesian',
    days: ['pada hari Senin', 'pada hari Selasa', 'pada hari Rabu', 'pada hari Kamis', 'pada hari Jumat', 'pada hari Sabtu', 'pada hari Minggu'],
    conds: ['cerah', 'hujan', 'berawan', 'badai', 'berkabut'],
    dirs: [['naik', 'naik'], ['turun', 'turun']],
    events: [['festival musik', 'Festival musik'], ['konser jazz', 'Konser jazz'], ['maraton kota', 'Maraton kota'], ['pameran buku', 'Pameran buku']],
    score: '{hi}-{lo}',
    generic: ['Berikut laporan terbaru dari redaksi kami.', 'Informasi lebih lanjut akan menyusul.', 'Laporan ini disusun oleh tim kami.'],
    kinds: {
      weather: {
        key: 'Cuaca di {city} {day} {cond} dengan suhu {t} derajat.',
        distractor: 'Minggu lalu suhu di sana hanya {x} derajat.',
        fillers: ['Warga diminta membawa payung saat bepergian.', 'Prakiraan ini diperbarui setiap enam jam.', 'Angin bertiup pelan dari arah barat.'],
        headline: '{city}: {cond}, {t} derajat',
      },
      sports: {
        key: '{winner} mengalahkan {loser} dengan skor {score} {day}.',
        distractor: 'Musim lalu kedua tim bermain imbang {x}-{x}.',
        fillers: ['Stadion dipenuhi ribuan penonton.', 'Pelatih memuji semangat para pemain.', 'Pertandingan berikutnya digelar dua minggu lagi.'],
        headline: '{winner} kalahkan {loser} {score}',
      },
      market: {
        key: 'Saham {company} {dir} {p} persen {day}.',
        distractor: 'Sebulan lalu sahamnya bergerak {x} persen.',
        fillers: ['Para analis menunggu laporan keuangan berikutnya.', 'Volume perdagangan lebih tinggi dari biasanya.', 'Bursa dibuka dengan tenang pada pagi hari.'],
        headline: 'Saham {company} {dir} {p}%',
      },
      event: {
        key: 'Sebanyak {n} ribu orang mengunjungi {event} di {city} {day}.',
        distractor: 'Tahun lalu acara serupa dihadiri {x} ribu orang.',
        fillers: ['Panitia menyiapkan bus tambahan untuk pengunjung.', 'Tiket habis terjual dalam beberapa jam.', 'Acara ini berlangsung dari pagi hingga malam.'],
        headline: '{event} {city}: {n} ribu pengunjung',
      },
    },
  },
  de: {
    name: 'German',
    days: ['am Montag', 'am Dienstag', 'am Mittwoch', 'am Donnerstag', 'am Freitag', 'am Samstag', 'am Sonntag'],
    conds: ['Sonne', 'Regen', 'Wolken', 'Gewitter', 'Nebel'],
    dirs: [['stieg', 'steigt'], ['fiel', 'fällt']],
    events: [['zum Musikfestival', 'Musikfestival'], ['zum Jazzkonzert', 'Jazzkonzert'], ['zum Stadtmarathon', 'Stadtmarathon'], ['zur Buchmesse', 'Buchmesse']],
    score: '{hi}:{lo}',
    generic: ['Hier ist der neueste Bericht unserer Redaktion.', 'Weitere Informationen folgen in Kürze.', 'Dieser Bericht wurde von unserem Team erstellt.'],
    kinds: {
      weather: {
        key: '{day} gibt es in {city} {cond} bei bis zu {t} Grad.',
        distractor: 'In der Vorwoche waren es dort nur {x} Grad.',
        fillers: ['Autofahrer sollten vorsichtig fahren.', 'Die Vorhersage wird alle sechs Stunden aktualisiert.', 'Der Wind weht schwach aus Westen.'],
        headline: '{city}: {cond}, {t} Grad',
      },
      sports: {
        key: '{winner} besiegte {loser} {day} mit {score}.',
        distractor: 'In der letzten Saison endete das Duell {x}:{x}.',
        fillers: ['Das Stadion war bis auf den letzten Platz gefüllt.', 'Der Trainer lobte die Moral seiner Spieler.', 'Das nächste Spiel findet in zwei Wochen statt.'],
        headline: '{winner} schlägt {loser} {score}',
      },
      market: {
        key: 'Die Aktie von {company} {dir} {day} um {p} Prozent.',
        distractor: 'Vor einem Monat hatte sich die Aktie um {x} Prozent bewegt.',
        fillers: ['Analysten warten auf den nächsten Quartalsbericht.', 'Das Handelsvolumen lag über dem Durchschnitt.', 'Die Börse eröffnete am Morgen ruhig.'],
        headline: 'Aktie von {company} {dir} um {p} Prozent',
      },
      event: {
        key: '{day} kamen {n} Tausend Besucher {event} in {city}.',
        distractor: 'Im Vorjahr waren es {x} Tausend Besucher.',
        fillers: ['Die Veranstalter setzten zusätzliche Busse ein.', 'Die Karten waren nach wenigen Stunden ausverkauft.', 'Die Veranstaltung dauerte bis spät in die Nacht.'],
        headline: '{event} in {city}: {n} Tausend Besucher',
      },
    },
  },
  pt: {
    name: 'Portuguese',
    days: ['na segunda-feira', 'na terça-feira', 'na quarta-feira', 'na quinta-feira', 'na sexta-feira', 'no sábado', 'no domingo'],
    conds: ['sol', 'chuva', 'nuvens', 'trovoadas', 'nevoeiro'],
    dirs: [['subiram', 'sobem'], ['caíram', 'caem']],
    events: [['o festival de música', 'Festival de música'], ['o concerto de jazz', 'Concerto de jazz'], ['a maratona', 'Maratona'], ['a feira do livro', 'Feira do livro']],
    score: '{hi}-{lo}',
    generic: ['Eis o último relatório da nossa redação.', 'Mais informações em breve.', 'Este relatório foi preparado pela nossa equipa.'],
    kinds: {
      weather: {
        key: '{city} terá {cond} e máximas de {t} graus {day}.',
        distractor: 'Na semana passada fizeram apenas {x} graus.',
        fillers: ['Os condutores devem ter cuidado nas estradas.', 'A previsão é atualizada a cada seis horas.', 'O vento sopra fraco de oeste.'],
        headline: '{city}: {cond}, {t} graus',
      },
      sports: {
        key: '{winner} venceu {loser} por {score} {day}.',
        distractor: 'Na época passada o duelo terminou {x}-{x}.',
        fillers: ['O estádio estava completamente cheio.', 'O treinador elogiou a atitude dos jogadores.', 'O próximo jogo é daqui a duas semanas.'],
        headline: '{winner} vence {loser} por {score}',
      },
      market: {
        key: 'As ações da {company} {dir} {p} por cento {day}.',
        distractor: 'Há um mês as ações tinham variado {x} por cento.',
        fillers: ['Os analistas aguardam o próximo relatório trimestral.', 'O volume de negócios ficou acima da média.', 'A bolsa abriu calma pela manhã.'],
        headline: 'Ações da {company} {dir} {p}%',
      },
      event: {
        key: 'Cerca de {n} mil pessoas visitaram {event} em {city} {day}.',
        distractor: 'No ano passado vieram {x} mil visitantes.',
        fillers: ['A organização reforçou os autocarros.', 'Os bilhetes esgotaram em poucas horas.', 'O evento durou até tarde da noite.'],
        headline: '{event} em {city}: {n} mil visitantes',
      },
    },
  },
  it: {
    name: 'Italian',
    days: ['lunedì', 'martedì', 'mercoledì', 'giovedì', 'venerdì', 'sabato', 'domenica'],
    conds: ['sole', 'pioggia', 'nuvole', 'temporali', 'nebbia'],
    dirs: [['salite', 'rialzo'], ['scese', 'calo']],
    events: [['il festival musicale', 'Festival musicale'], ['il concerto jazz', 'Concerto jazz'], ['la maratona', 'Maratona'], ['la fiera del libro', 'Fiera del libro']],
    score: '{hi}-{lo}',
    generic: ["Ecco l'ultimo rapporto della nostra redazione.", 'Altre informazioni seguiranno a breve.', 'Questo rapporto è stato preparato dal nostro team.'],
    kinds: {
      weather: {
        key: 'Il meteo per {city} prevede {cond} e {t} gradi per {day}.',
        distractor: "La settimana scorsa c'erano solo {x} gradi.",
        fillers: ['Gli automobilisti devono guidare con prudenza.', 'Le previsioni sono aggiornate ogni sei ore.', 'Il vento soffia debole da ovest.'],
        headline: '{city}: {cond}, {t} gradi',
      },
      sports: {
        key: '{winner} ha battuto {loser} per {score} {day}.',
        distractor: 'Nella scorsa stagione la sfida finì {x}-{x}.',
        fillers: ['Lo stadio era pieno in ogni ordine di posti.', "L'allenatore ha lodato la grinta dei giocatori.", 'La prossima partita si gioca tra due settimane.'],
        headline: '{winner} batte {loser} {score}',
      },
      market: {
        key: 'Le azioni di {company} sono {dir} del {p} per cento {day}.',
        distractor: 'Un mese fa il titolo si era mosso del {x} per cento.',
        fillers: ['Gli analisti attendono la prossima relazione trimestrale.', 'I volumi di scambio erano sopra la media.', 'La borsa ha aperto tranquilla al mattino.'],
        headline: '{company}: azioni in {dir} del {p}%',
      },
      event: {
        key: 'Circa {n} mila persone hanno visitato {event} di {city} {day}.',
        distractor: "L'anno scorso erano venuti {x} mila visitatori.",
        fillers: ['Gli organizzatori hanno aggiunto autobus extra.', 'I biglietti sono andati esauriti in poche ore.', "L'evento è durato fino a tarda notte."],
        headline: '{event} di {city}: {n} mila visitatori',
      },
    },
  },
  es: {
    name: 'Spanish',
    days: ['el lunes', 'el martes', 'el miércoles', 'el jueves', 'el viernes', 'el sábado', 'el domingo'],
    conds: ['sol', 'lluvia', 'nubes', 'tormentas', 'niebla'],
    dirs: [['subieron', 'suben'], ['cayeron', 'caen']],
    events: [['el festival de música', 'Festival de música'], ['el concierto de jazz', 'Concierto de jazz'], ['el maratón', 'Maratón'], ['la feria del libro', 'Feria del libro']],
    score: '{hi}-{lo}',
    generic: ['Este es el último informe de nuestra redacción.', 'Más información en breve.', 'Este informe fue preparado por nuestro equipo.'],
    kinds: {
      weather: {
        key: '{city} tendrá {cond} y máximas de {t} grados {day}.',
        distractor: 'La semana pasada solo hubo {x} grados.',
        fillers: ['Los conductores deben circular con precaución.', 'La previsión se actualiza cada seis horas.', 'El viento sopla débil del oeste.'],
        headline: '{city}: {cond}, {t} grados',
      },
      sports: {
        key: '{winner} venció a {loser} por {score} {day}.',
        distractor: 'La temporada pasada el duelo terminó {x}-{x}.',
        fillers: ['El estadio estaba lleno hasta la bandera.', 'El entrenador elogió la actitud de los jugadores.', 'El próximo partido se juega dentro de dos semanas.'],
        headline: '{winner} gana a {loser} {score}',
      },
      market: {
        key: 'Las acciones de {company} {dir} un {p} por ciento {day}.',
        distractor: 'Hace un mes el valor se había movido un {x} por ciento.',
        fillers: ['Los analistas esperan el próximo informe trimestral.', 'El volumen de negociación fue superior a la media.', 'La bolsa abrió tranquila por la mañana.'],
        headline: 'Las acciones de {company} {dir} un {p}%',
      },
      event: {
        key: 'Unas {n} mil personas visitaron {event} de {city} {day}.',
        distractor: 'El año pasado acudieron {x} mil visitantes.',
        fillers: ['Los organizadores añadieron autobuses extra.', 'Las entradas se agotaron en pocas horas.', 'El evento duró hasta altas horas de la noche.'],
        headline: '{event} de {city}: {n} mil visitantes',
      },
    },
  },
};

/** @type {string[]} The language codes in a fixed order. */
export const CODES = Object.keys(LANGUAGES);

/** @type {string[]} The report kinds in a fixed order. */
export const KINDS = ['weather', 'sports', 'market', 'event'];

const fill = (template, facts) => template.replace(/\{(\w+)\}/g, (_, k) => {
  if (!(k in facts)) throw new Error(`summarize data: template ${JSON.stringify(template)} needs {${k}}`);
  return String(facts[k]);
});
const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const pick = (rng, list) => list[rng.int(list.length)];

/**
 * The facts of one report of `kind` in language `L`: the values its templates fill in, and in
 * `headline` the words the headline writes differently (a verb's headline form, an event without article).
 */
function drawFacts(rng, L, kind) {
  const facts = { day: pick(rng, L.days), city: pick(rng, CITIES) };
  if (kind === 'weather') Object.assign(facts, { cond: pick(rng, L.conds), t: rng.int(41) - 5 });
  if (kind === 'sports') {
    const w = rng.int(TEAMS.length);
    const l = (w + 1 + rng.int(TEAMS.length - 1)) % TEAMS.length;
    const hi = 1 + rng.int(5);
    Object.assign(facts, { winner: TEAMS[w], loser: TEAMS[l], score: fill(L.score, { hi, lo: rng.int(hi) }) });
  }
  if (kind === 'market') {
    const [dir, head] = pick(rng, L.dirs);
    Object.assign(facts, { company: pick(rng, COMPANIES), dir, p: 1 + rng.int(15), headline: { dir: head } });
  }
  if (kind === 'event') {
    const [event, head] = pick(rng, L.events);
    Object.assign(facts, { event, n: 2 + rng.int(49), headline: { event: head } });
  }
  return facts;
}

/** A distractor number of the same kind as the key fact, never equal to it. */
function distractorNumber(rng, kind, facts) {
  const [lo, span, own] = { weather: [-5, 41, facts.t], sports: [0, 4, -1], market: [1, 15, facts.p], event: [2, 49, facts.n] }[kind];
  let x = lo + rng.int(span);
  while (x === own) x = lo + rng.int(span);
  return x;
}

/**
 * One random report with its headline.
 *
 * @example
 * makeReport(new Rng(3), 'de', 'weather');
 * // { text: 'Die Vorhersage wird ... Am Freitag gibt es in Porto Regen bei bis zu 21 Grad. ...', headline: 'Porto: Regen, 21 Grad', lang: 'de', kind: 'weather', keyIndex: 1 }
 * @param {Rng} rng @param {string} lang @param {string} kind
 * @returns {{ text: string, headline: string, lang: string, kind: string, keyIndex: number, sentences: string[] }}
 */
export function makeReport(rng, lang, kind) {
  const L = LANGUAGES[lang];
  const K = L.kinds[kind];
  const facts = drawFacts(rng, L, kind);
  const key = capitalize(fill(K.key, facts));
  const body = [key];
  if (rng.next() < 0.6) body.push(fill(K.distractor, { x: distractorNumber(rng, kind, facts) }));
  const fillers = rng.shuffle([...K.fillers]);
  body.push(...fillers.slice(0, 1 + rng.int(2)));
  const sentences = rng.shuffle(body);
  if (rng.next() < 0.3) sentences.unshift(pick(rng, L.generic));
  return { text: sentences.join(' '), headline: fill(K.headline, { ...facts, ...facts.headline }), lang, kind, keyIndex: sentences.indexOf(key), sentences };
}

/**
 * A random report in a random language and of a random kind.
 *
 * @example
 * const r = sampleReport(new Rng(1)); // { text, headline, lang, kind, ... }
 * @param {Rng} rng
 */
export function sampleReport(rng) {
  return makeReport(rng, pick(rng, CODES), pick(rng, KINDS));
}

/**
 * The data set: `trainSize` training and `testSize` test reports, the test reports distinct
 * from every training report (by text).
 *
 * @example
 * const { train, test } = buildDataset({ trainSize: 8000, testSize: 500, seed: 0 });
 * @param {{ trainSize: number, testSize: number, seed: number }} o
 */
export function buildDataset({ trainSize, testSize, seed }) {
  const rng = new Rng(seed ^ 0x5a11);
  const train = Array.from({ length: trainSize }, () => sampleReport(rng));
  const seen = new Set(train.map((r) => r.text));
  const test = [];
  while (test.length < testSize) {
    const r = sampleReport(rng);
    if (!seen.has(r.text)) {
      seen.add(r.text);
      test.push(r);
    }
  }
  return { train, test };
}

/**
 * The lead baseline: a report's first sentence as its summary.
 *
 * @example
 * leadSentence(report); // 'Berikut laporan terbaru dari redaksi kami.'
 * @param {{ sentences: string[] }} report
 */
export function leadSentence(report) {
  return report.sentences[0];
}
