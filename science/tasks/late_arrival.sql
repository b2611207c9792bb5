-- One row per flight: its route and hour, the weather at its origin in its scheduled departure hour,
-- its plane, and whether it arrived more than 15 minutes late (null when diverted or cancelled).
SELECT make_date(f.year, f.month, f.day) AS flight_date,
       f.carrier, f.flight, f.origin, f.dest, f.sched_dep_time, f.tailnum,
       CAST(f.hour AS DOUBLE) AS dep_hour,
       CAST(isodow(make_date(f.year, f.month, f.day)) AS DOUBLE) AS day_of_week,
       CAST(f.distance AS DOUBLE) AS distance,
       CAST(w.temp AS DOUBLE) AS temp, CAST(w.dewp AS DOUBLE) AS dewp, CAST(w.humid AS DOUBLE) AS humid,
       CAST(w.wind_speed AS DOUBLE) AS wind_speed, CAST(w.wind_gust AS DOUBLE) AS wind_gust,
       CAST(w.precip AS DOUBLE) AS precip, CAST(w.pressure AS DOUBLE) AS pressure,
       CAST(w.visib AS DOUBLE) AS visib,
       CAST(p.year AS DOUBLE) AS plane_year, CAST(p.seats AS DOUBLE) AS seats,
       CAST(p.engines AS DOUBLE) AS engines,
       CASE WHEN f.arr_delay IS NULL THEN NULL ELSE f.arr_delay > 15 END AS late
FROM flights f
LEFT JOIN weather w
       ON w.origin = f.origin AND w.year = f.year AND w.month = f.month AND w.day = f.day AND w.hour = f.hour
LEFT JOIN planes p ON p.tailnum = f.tailnum
