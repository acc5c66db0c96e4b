import { describe, expect, it } from 'vitest';
import { envMap, expandVars } from './expand-vars.js';

describe('expandVars', () => {
  const vars = { PORT: '3000', HOST: '0.0.0.0', EMPTY: '' };

  it('replaces a defined variable, several times and inside a word', () => {
    expect(expandVars('--port=$(PORT)', vars)).toBe('--port=3000');
    expect(expandVars('http://$(HOST):$(PORT)/x', vars)).toBe('http://0.0.0.0:3000/x');
    expect(expandVars('a$(EMPTY)b', vars)).toBe('ab');
  });

  it('leaves an undefined reference as written', () => {
    expect(expandVars('$(NOPE) $(PORT)', vars)).toBe('$(NOPE) 3000');
  });

  it('turns $$ into $ so $$(PORT) escapes a reference', () => {
    expect(expandVars('$$(PORT)', vars)).toBe('$(PORT)');
    expect(expandVars('cost: $$5', vars)).toBe('cost: $5');
  });

  it('keeps a lone $, $VAR and an unclosed reference', () => {
    expect(expandVars('$PORT $ $(PORT', vars)).toBe('$PORT $ $(PORT');
    expect(expandVars('end$', vars)).toBe('end$');
  });
});

describe('envMap', () => {
  it('splits at the first =', () => {
    expect(envMap(['A=1', 'B=x=y', 'junk'])).toEqual({ A: '1', B: 'x=y' });
  });
});
