// ESLint 9 flat config: neostandard (the `standard` style js-libp2p uses, with TypeScript) as linter and formatter.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', '.cache/**', 'interop/**/target/**', 'wireshark/build/**'] }),
  {
    rules: {
      // `void promise` marks a promise deliberately left to run (its rejection is handled inside).
      'no-void': ['error', { allowAsStatement: true }],
      // Loops that await a change made by a callback (`while (!settled) await …`) are the norm in the adapters.
      'no-unmodified-loop-condition': 'off',
      // `let x` assigned once after a closure that reads it was created (a timer the callback disposes).
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
      '@stylistic/max-len': ['error', {
        code: 120,
        ignoreUrls: true,
        ignoreStrings: true,
        ignoreTemplateLiterals: true,
        ignoreRegExpLiterals: true,
        // Markdown tables inside comments keep their rows whole.
        ignorePattern: '^\\s*\\* \\|'
      }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // `export const KeyType = {…} as const` beside `export type KeyType`: the enum pattern, not a redeclaration.
      '@typescript-eslint/no-redeclare': 'off',
      // TypeScript types what is thrown (`throw this.resetError as StreamResetError` is not a literal).
      'no-throw-literal': 'off',
      '@typescript-eslint/no-unused-vars': ['error', {
        argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none'
      }]
    }
  }
]
