// The hall needs no script to work; this file exists so that a page can add behaviour without an inline script
// (Content-Security-Policy: script-src 'self').
