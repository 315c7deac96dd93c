-- The ability points of the profile's catalogue, in its latest loaded version.
SELECT code, name, dimension, environment, credits, catalogue
FROM abilities
WHERE catalogue = (SELECT catalogue FROM profile)
  AND batch_id = (SELECT max(batch_id) FROM abilities WHERE catalogue = (SELECT catalogue FROM profile))
