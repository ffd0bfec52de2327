// Zhiku front-end behaviour; no inline scripts anywhere (strict CSP).
