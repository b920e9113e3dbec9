/** Attack suite: hostile and broken inputs must fail fast with one clear line and the documented exit code. */
package dev.paft.attack;
