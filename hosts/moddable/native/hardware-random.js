/*
 * The platform's cryptographically secure random generator, filled into a buffer by a small native
 * function (one C file per platform in this folder): esp_fill_random() on ESP32, which draws on the
 * hardware RNG; getrandom() on Linux; arc4random_buf() on macOS; rand_s() on Windows. Math.random is
 * not one: in the Linux simulator it is an unseeded rand().
 */
export default function fillRandom(buffer) @ "xs_civicnode_fill_random";
