import { describe, expect, it } from 'vitest';
import { MkmError } from '../../../shared/errors.std';
import {
  PGP_EVEN_WORDS,
  PGP_ODD_WORDS,
  pgpWords,
  pgpWordsOfHex,
} from '../../../shared/formats/pgp-words.std';

describe('PGP word list', () => {
  it('has 256 words in each list and 512 distinct words in all, whatever the case', () => {
    expect(PGP_EVEN_WORDS).toHaveLength(256);
    expect(PGP_ODD_WORDS).toHaveLength(256);
    const all = [...PGP_EVEN_WORDS, ...PGP_ODD_WORDS].map((w) => w.toLowerCase());
    expect(new Set(all).size).toBe(512);
    for (const word of all) expect(word).toMatch(/^[a-z]+$/);
  });

  it('reads Wikipedia’s example fingerprint as the article does', () => {
    // https://en.wikipedia.org/wiki/PGP_word_list ("E582 94F2 ...").
    expect(pgpWordsOfHex('E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19').join(' ')).toBe(
      'topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa ' +
        'afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless',
    );
  });

  it('reads the example of CPAN’s Encode::Wordlist::PGP (its author’s fingerprint)', () => {
    expect(pgpWordsOfHex('4155 9711 308F 2A21 B9D5  072D 6219 58AF CB50 B5F9').join(' ')).toBe(
      'cranky equipment preshrunk Babylon chairlift midsummer brickyard Camelot sentence specialist ' +
        'ahead clergyman flagpole bottomless endorse pharmacy spheroid embezzle scorecard Waterloo',
    );
  });

  it('alternates the lists by offset, so the same byte reads differently at an even and an odd place', () => {
    expect(pgpWords(new Uint8Array([0x00, 0x00, 0xff, 0xff]))).toEqual([
      'aardvark',
      'adroitness',
      'Zulu',
      'Yucatan',
    ]);
    expect(pgpWordsOfHex('00:ff')).toEqual(['aardvark', 'Yucatan']);
    expect(pgpWords(new Uint8Array())).toEqual([]);
  });

  it('refuses hex that is not whole bytes', () => {
    for (const bad of ['abc', 'zz', '0x12']) {
      expect(() => pgpWordsOfHex(bad)).toThrow(MkmError);
      try {
        pgpWordsOfHex(bad);
      } catch (e) {
        expect((e as MkmError).code).toBe('ENCODING_INVALID');
      }
    }
  });
});
