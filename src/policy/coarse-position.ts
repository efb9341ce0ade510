/**
 * A node's published position: its exact position (provisioning data) snapped to the centre of a
 * grid cell of the policy's precision, so that what residents, the API, the dashboard and the
 * exports show locates the node to its cell and no closer, and is the same figure everywhere.
 *
 * The grid, counted from 0 N 0 E: rows of `meters` of latitude (1 degree = 111,320 m, to within
 * 0.6 %), each row cut into cells of `meters` of longitude at its own centre latitude. Every node
 * in a cell publishes the same point, its centre, rounded to 1e-7 degrees.
 */
export interface Position {
  readonly latitude: number;
  readonly longitude: number;
}

const METERS_PER_DEGREE = 111_320;

export function coarsePosition(exact: Position, meters: number): Position {
  if (!(meters > 0)) throw new RangeError(`a grid cell of ${meters} m`);
  const latStep = meters / METERS_PER_DEGREE;
  const row = Math.floor(exact.latitude / latStep);
  const latitude = Math.max(-90, Math.min(90, (row + 0.5) * latStep));
  // Near a pole a cell spans every longitude; so does its centre's.
  const lonStep = Math.min(360, meters / (METERS_PER_DEGREE * Math.max(Math.cos((latitude * Math.PI) / 180), 1e-9)));
  const column = Math.floor(exact.longitude / lonStep);
  const longitude = Math.max(-180, Math.min(180, (column + 0.5) * lonStep));
  return { latitude: round7(latitude), longitude: round7(longitude) };
}

function round7(degrees: number): number {
  return Math.round(degrees * 1e7) / 1e7;
}
