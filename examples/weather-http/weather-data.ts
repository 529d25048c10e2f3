// Deterministic fake weather: the same city, region or station always gives the same answer, so tests
// (and a gateway's response cache) can assert on exact values. Nothing here touches the network.

const CONDITIONS = ['sunny', 'partly cloudy', 'cloudy', 'light rain', 'showers', 'thunderstorms', 'fog', 'snow'];

const ALERTS = [
  { event: 'Heat Advisory', severity: 'moderate', text: 'Temperatures up to 38°C expected in the afternoon.' },
  { event: 'Flood Watch', severity: 'severe', text: 'Heavy rain may cause rivers to overflow.' },
  { event: 'Wind Advisory', severity: 'minor', text: 'Gusts up to 70 km/h; secure loose objects.' },
  { event: 'Winter Storm Warning', severity: 'severe', text: 'Snow accumulations of 20–30 cm expected.' },
  { event: 'Air Quality Alert', severity: 'minor', text: 'Sensitive groups should limit time outdoors.' },
];

/** FNV-1a, so fake values depend only on the input text. */
function hash(value: string): number {
  let h = 0x811c9dc5;
  for (const char of value.trim().toLowerCase()) {
    h ^= char.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export interface ForecastDay {
  day: number;
  condition: string;
  highC: number;
  lowC: number;
  precipitationChance: number;
}

export function forecast(city: string, days: number): ForecastDay[] {
  const seed = hash(city);
  const base = (seed % 30) - 5; // a climate between -5 °C and 24 °C
  return Array.from({ length: days }, (_, index) => {
    const h = hash(`${city}#${index}`);
    const highC = base + (h % 9);
    return {
      day: index + 1,
      condition: CONDITIONS[h % CONDITIONS.length],
      highC,
      lowC: highC - 4 - ((h >>> 4) % 7),
      precipitationChance: ((h >>> 8) % 11) * 10,
    };
  });
}

export interface Alert {
  event: string;
  severity: string;
  text: string;
}

/** Zero to two alerts per region. */
export function alerts(region: string): Alert[] {
  const h = hash(region);
  const count = h % 3;
  return Array.from({ length: count }, (_, index) => ALERTS[(h + index * 7) % ALERTS.length]);
}

export type TemperatureUnit = 'C' | 'F' | 'K';

export function convertTemperature(value: number, from: TemperatureUnit, to: TemperatureUnit): number {
  const celsius = from === 'C' ? value : from === 'F' ? ((value - 32) * 5) / 9 : value - 273.15;
  const converted = to === 'C' ? celsius : to === 'F' ? (celsius * 9) / 5 + 32 : celsius + 273.15;
  return Math.round(converted * 100) / 100;
}

export interface StationReading {
  station: number;
  temperatureC: number;
  humidity: number;
  windKph: number;
}

export function stationReading(station: number): StationReading {
  const h = hash(`station-${station}`);
  return { station, temperatureC: (h % 35) - 5, humidity: 20 + ((h >>> 6) % 80), windKph: (h >>> 12) % 60 };
}
