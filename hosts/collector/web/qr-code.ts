/**
 * The QR code of a node's public page, for the sign on its lamppost: SVG drawn on the server (npm
 * `qrcode`), so the page needs no script and the city can print it at any size. Error correction
 * level M (ISO/IEC 18004: about 15% of the modules may be lost, a sign's scratches and dirt) and
 * the standard's quiet zone of 4 modules around it, which readers need to find the code.
 *
 * The SVG is placed in the page as markup, so it is checked to be only what the library draws (an
 * <svg> of <path> elements with plain attributes) before it is trusted: the address in the code is
 * in its modules, never in its text.
 */
import QRCode from "qrcode";
import { escapeHtml, trustedMarkup, type Html } from "./html-escape.js";

const QUIET_ZONE_MODULES = 4;
const LIBRARY_SVG = /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+" shape-rendering="crispEdges">(?:<path(?: [a-z-]+="[^"<>&]*")+\/>)+<\/svg>\n?$/;

export class QrCodeError extends Error {
  override name = "QrCodeError";
}

/** The QR code of `address` as a standalone SVG document. */
export async function qrCodeSvg(address: string): Promise<string> {
  const svg = await QRCode.toString(address, { type: "svg", errorCorrectionLevel: "M", margin: QUIET_ZONE_MODULES });
  if (!LIBRARY_SVG.test(svg)) throw new QrCodeError("the QR code library drew something other than an <svg> of paths");
  return svg.trimEnd();
}

/** The QR code of `address` as markup for a page, labelled for screen readers with its address. */
export async function qrCodeMarkup(address: string): Promise<Html> {
  const svg = await qrCodeSvg(address);
  return trustedMarkup(svg.replace("<svg ", `<svg class="qr-code" role="img" aria-label="${escapeHtml(`QR code of ${address}`)}" `));
}
